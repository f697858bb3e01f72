#include "server/jobs/job_scheduler.h"

#include <algorithm>
#include <cstdio>
#include <new>
#include <utility>

#include "core/util/error.h"

namespace layerscope::jobs {
namespace {

// The gRPC status code name for a failure kind, stored as Job::error_code so that the service can answer a failed
// job with the code the failure had (e.g. RESOURCE_EXHAUSTED for a GPU out of memory).
const char* CodeName(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kInvalidArgument: return "INVALID_ARGUMENT";
    case ErrorKind::kNotFound: return "NOT_FOUND";
    case ErrorKind::kFailedPrecondition: return "FAILED_PRECONDITION";
    case ErrorKind::kDataLoss: return "DATA_LOSS";
    case ErrorKind::kResourceExhausted: return "RESOURCE_EXHAUSTED";
    case ErrorKind::kCancelled: return "CANCELLED";
    case ErrorKind::kInternal: return "INTERNAL";
  }
  return "INTERNAL";
}

}  // namespace

// Watcher state of one queued or running job, guarded by the scheduler's mu_.
struct JobWatch::Live {
  uint64_t version = 0;  // bumped at every change of the job's record or rows
  bool closed = false;   // the job ended (or the scheduler stopped running it)
  // Set when the job ended but the store could not record it (e.g. disk full): watchers report this failure, with
  // the code of the store's error (RESOURCE_EXHAUSTED for a full disk: the client can retry once there is space).
  std::string unrecorded_end;
  std::string unrecorded_code;
  std::condition_variable cv;
};

struct JobScheduler::Running {
  StopFlag stop;
  bool cancel_requested = false;
};

class JobScheduler::Output : public JobOutput {
 public:
  Output(JobScheduler* scheduler, const std::string& id) : scheduler_(scheduler), id_(id) {}
  void EmitRow(const std::string& data) override {
    scheduler_->store_->AppendRow(id_, data);
    scheduler_->Changed(id_, false);
  }
  void EmitProgress(int64_t steps_done, int64_t steps_total) override {
    scheduler_->store_->SetProgress(id_, steps_done, steps_total);
    scheduler_->Changed(id_, false);
  }
  void EmitCheckpoint(int mode_index, int64_t batch) override {
    scheduler_->store_->SaveCheckpoint(id_, mode_index, batch);
    scheduler_->Changed(id_, false);
  }

 private:
  JobScheduler* scheduler_;
  const std::string& id_;
};

JobScheduler::JobScheduler(JobStore* store, JobRunner* runner, SchedulerOptions options)
    : store_(store), runner_(runner), options_(std::move(options)) {
  if (options_.devices < 1 || options_.workers_per_device < 1 || options_.max_jobs_per_user < 1) {
    throw Error(ErrorKind::kInvalidArgument,
                "job scheduler: devices (" + std::to_string(options_.devices) + "), workers_per_device (" +
                    std::to_string(options_.workers_per_device) + ") and max_jobs_per_user (" +
                    std::to_string(options_.max_jobs_per_user) + ") must each be at least 1");
  }
}

JobScheduler::~JobScheduler() { Shutdown(); }

void JobScheduler::Log(const std::string& message) {
  if (options_.log) {
    options_.log(message);
  } else {
    std::fprintf(stderr, "layerscope jobs: %s\n", message.c_str());
  }
}

void JobScheduler::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (started_) throw Error(ErrorKind::kFailedPrecondition, "job scheduler: Start called twice");
  for (const Job& job : store_->Queued()) {
    queue_.push_back(job.id);
    ++active_per_user_[job.owner];
    owner_of_[job.id] = job.owner;
    live_[job.id] = std::make_shared<JobWatch::Live>();
  }
  started_ = true;
  for (int device = 0; device < options_.devices; ++device) {
    for (int w = 0; w < options_.workers_per_device; ++w) workers_.emplace_back([this, device] { WorkerLoop(device); });
  }
}

void JobScheduler::Shutdown() {
  std::vector<std::thread> workers;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    for (auto& [id, running] : running_) running->stop.flag_.store(true, std::memory_order_release);
    workers.swap(workers_);
  }
  work_cv_.notify_all();
  for (std::thread& worker : workers) worker.join();
}

Job JobScheduler::Submit(const NewJob& job, const SubmitOptions& options) {
  if (options.use_cache) {
    if (std::optional<Job> cached = store_->FindCached(job.content_key)) {
      return store_->CreateFromCache(job, cached->id);
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (!started_ || stopping_) {
    throw Error(ErrorKind::kFailedPrecondition,
                std::string("job scheduler: cannot accept a job: ") + (stopping_ ? "shutting down" : "not started"));
  }
  int& active = active_per_user_[job.owner];
  if (active >= options_.max_jobs_per_user) {
    throw Error(ErrorKind::kResourceExhausted, "user " + job.owner + " has " + std::to_string(active) +
                                                   " jobs queued or running, this server's limit max_jobs_per_user = " +
                                                   std::to_string(options_.max_jobs_per_user) +
                                                   "; wait for one to finish or cancel one");
  }
  // Created under mu_, so that the store's submission order is the queue's order and the limit check holds.
  Job created = store_->Create(job);
  ++active;
  owner_of_[created.id] = created.owner;
  live_[created.id] = std::make_shared<JobWatch::Live>();
  queue_.push_back(created.id);
  work_cv_.notify_one();
  return created;
}

JobScheduler::CancelResult JobScheduler::Cancel(const std::string& id) {
  {
    std::unique_lock<std::mutex> lock(mu_);
    auto queued = std::find(queue_.begin(), queue_.end(), id);
    if (queued != queue_.end()) {
      // Under mu_, so that no worker takes it between the store's update and the queue's.
      store_->Finish(id, JobState::kCancelled, "cancelled before it started", "CANCELLED");
      queue_.erase(queued);
      --active_per_user_[owner_of_[id]];
      owner_of_.erase(id);
      lock.unlock();
      Changed(id, true);
      return CancelResult::kCancelled;
    }
    auto running = running_.find(id);
    if (running != running_.end()) {
      running->second->cancel_requested = true;
      running->second->stop.flag_.store(true, std::memory_order_release);
      return CancelResult::kStopping;
    }
  }
  // Not in memory: final, unknown, or queued in the store while no worker will take it (before Start, or requeued
  // at Shutdown).
  std::optional<Job> job = store_->Get(id);
  if (!job) throw Error(ErrorKind::kNotFound, "job " + id + " does not exist");
  if (IsFinal(job->state)) return CancelResult::kAlreadyFinal;
  store_->Finish(id, JobState::kCancelled, "cancelled before it started", "CANCELLED");
  return CancelResult::kCancelled;
}

JobWatch JobScheduler::Watch(const std::string& id, int64_t from_row) {
  std::shared_ptr<JobWatch::Live> live;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = live_.find(id);
    if (it != live_.end()) live = it->second;
  }
  // Without a live entry the job is final (or not run by this scheduler): its rows are all stored already.
  if (!live && !store_->Get(id)) throw Error(ErrorKind::kNotFound, "job " + id + " does not exist");
  return JobWatch(this, id, std::max<int64_t>(0, from_row), std::move(live));
}

JobScheduler::Counts JobScheduler::counts() {
  std::lock_guard<std::mutex> lock(mu_);
  return Counts{static_cast<int>(queue_.size()), static_cast<int>(running_.size())};
}

void JobScheduler::Changed(const std::string& id, bool final) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = live_.find(id);
  if (it == live_.end()) return;
  ++it->second->version;
  if (final) {
    it->second->closed = true;
    it->second->cv.notify_all();
    live_.erase(it);
    return;
  }
  it->second->cv.notify_all();
}

void JobScheduler::WorkerLoop(int device_index) {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    work_cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (stopping_) return;
    const std::string id = queue_.front();
    queue_.pop_front();
    auto running = std::make_shared<Running>();
    running_[id] = running;
    lock.unlock();
    RunOne(id, device_index, running.get());
    lock.lock();
  }
}

void JobScheduler::RunOne(const std::string& id, int device_index, Running* running) {
  // The outcome: requeued (shutdown), or final with an error and its code.
  bool requeue = false;
  JobState final_state = JobState::kFailed;
  std::string error;
  std::string error_code;
  // Called when the runner returned early or threw: a stop request explains it.
  const auto stopped_by_request = [&]() {
    std::lock_guard<std::mutex> lock(mu_);
    if (running->cancel_requested) {
      final_state = JobState::kCancelled;
      error = "cancelled while running";
      error_code = "CANCELLED";
      return true;
    }
    if (stopping_) {
      requeue = true;
      return true;
    }
    return false;
  };

  bool started = false;
  try {
    const Job job = store_->MarkRunning(id);
    started = true;
    Changed(id, false);
    Output output(this, id);
    if (running->stop.stop_requested()) {
      stopped_by_request();
    } else if (runner_->Run(job, device_index, running->stop, output) == JobRunner::Result::kDone) {
      final_state = JobState::kSucceeded;
    } else if (!stopped_by_request()) {
      error = "the runner stopped without a stop request (a bug)";
      error_code = "INTERNAL";
    }
  } catch (const Error& e) {
    if (!(started && stopped_by_request())) {
      error = e.what();
      error_code = CodeName(e.kind());
    }
  } catch (const std::bad_alloc&) {
    if (!(started && stopped_by_request())) {
      error = "out of memory";
      error_code = "RESOURCE_EXHAUSTED";
    }
  } catch (const std::exception& e) {
    if (!(started && stopped_by_request())) {
      error = e.what();
      error_code = "INTERNAL";
    }
  }

  // The store's transition and the scheduler's bookkeeping happen under mu_ together: a watcher that sees the job
  // end and submits again at once finds the user's quota already freed.
  std::unique_lock<std::mutex> lock(mu_);
  running_.erase(id);
  if (requeue) {
    try {
      store_->Requeue(id, "the server shut down while this job was running");
    } catch (const Error& e) {
      Log("job " + id + ": could not requeue it at shutdown (the next start recovers it): " + e.what());
    }
    lock.unlock();
    Changed(id, false);
    return;
  }
  try {
    store_->Finish(id, final_state, error, error_code);
  } catch (const Error& e) {
    const std::string unrecorded = std::string("the job ended (") + JobStateName(final_state) +
                                   (error.empty() ? "" : ": " + error) +
                                   ") but the store could not record it: " + e.what();
    Log("job " + id + ": " + unrecorded);
    auto live = live_.find(id);
    if (live != live_.end()) {
      live->second->unrecorded_end = unrecorded;
      live->second->unrecorded_code = CodeName(e.kind());
    }
  }
  auto owner = owner_of_.find(id);
  if (owner != owner_of_.end()) {
    --active_per_user_[owner->second];
    owner_of_.erase(owner);
  }
  lock.unlock();
  Changed(id, true);
}

JobWatch::JobWatch(JobScheduler* scheduler, std::string id, int64_t next_row, std::shared_ptr<Live> live)
    : scheduler_(scheduler), id_(std::move(id)), next_row_(next_row), live_(std::move(live)) {}

WatchUpdate JobWatch::Next(std::chrono::milliseconds max_wait, int64_t max_rows) {
  std::string unrecorded_end;
  std::string unrecorded_code;
  if (live_) {
    std::unique_lock<std::mutex> lock(scheduler_->mu_);
    // The version is taken before the store is read, so a change made after the read bumps it past what this
    // watch has seen and the next call does not wait: no wakeup is lost. Rows left unread by the last call (over
    // max_rows) are there to read now.
    live_->cv.wait_for(lock, max_wait, [this] { return behind_ || live_->version != seen_version_ || live_->closed; });
    seen_version_ = live_->version;
    unrecorded_end = live_->unrecorded_end;
    unrecorded_code = live_->unrecorded_code;
  }
  WatchUpdate update;
  std::optional<Job> job = scheduler_->store_->Get(id_);
  if (!job) throw Error(ErrorKind::kNotFound, "job " + id_ + " does not exist");
  update.job = std::move(*job);
  // The job first, then its rows: once the job reads as final, every row it will have is already stored.
  update.rows = scheduler_->store_->ReadRows(id_, next_row_, max_rows);
  if (!update.rows.empty()) next_row_ = update.rows.back().seq + 1;
  if (!IsFinal(update.job.state) && !unrecorded_end.empty()) {
    update.job.state = JobState::kFailed;
    update.job.error = unrecorded_end;
    update.job.error_code = unrecorded_code;
  }
  behind_ = next_row_ < update.job.rows;
  update.done = IsFinal(update.job.state) && !behind_;
  return update;
}

}  // namespace layerscope::jobs
