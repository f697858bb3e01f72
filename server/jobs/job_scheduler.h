// JobScheduler: runs the jobs of a JobStore on `devices` x `workers_per_device` worker threads, first in, first out.
//
// - One queue for every device: a free worker of any device takes the oldest queued job, so jobs start in submission
//   order and a device never idles while a job waits. Each worker knows its device index and passes it to the
//   runner (the service keeps a resident model per device).
// - A user may have at most `max_jobs_per_user` jobs queued or running; one more is refused (kResourceExhausted)
//   with the limit named. Answers from the result cache do not count: they take no worker.
// - Cancel: a queued job is cancelled at once; a running one gets its stop flag set, which the runner polls.
// - Shutdown (and the destructor): no new job starts; running jobs are asked to stop at their next poll and go back
//   to `queued` in the store with their checkpoint (JobStore::Requeue), so the next start resumes them, exactly as
//   after a crash but without counting an interruption. Queued jobs stay queued.
// - Watch: a watcher reads the store from a row number of its choice (0: everything from the start) and then waits
//   for new rows or a state change. It holds no buffer of the job's and the job never waits for it, so a slow or
//   vanished watcher costs the job nothing; any number may watch one job.
//
// Errors are layerscope::Error naming the job id or the limit. Logging goes through `SchedulerOptions::log`.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "server/jobs/job.h"
#include "server/jobs/job_store.h"

namespace layerscope::jobs {

// What a running job hands its results to. Each call is one store transaction, so it is durable when it returns.
// Throws layerscope::Error when the store cannot write (e.g. disk full): let it propagate out of Run, which fails
// the job with that message.
class JobOutput {
 public:
  virtual ~JobOutput() = default;
  // Appends a final result row; watchers see it at once.
  virtual void EmitRow(const std::string& data) = 0;
  virtual void EmitProgress(int64_t steps_done, int64_t steps_total) = 0;
  // Declares (mode_index, batch) finished with every row emitted so far: after a crash or shutdown the job resumes
  // from here (Job::checkpoint) instead of restarting.
  virtual void EmitCheckpoint(int mode_index, int64_t batch) = 0;
};

// Set when the runner should stop (the job was cancelled, or the scheduler is shutting down). Poll it between
// batches.
class StopFlag {
 public:
  bool stop_requested() const { return flag_.load(std::memory_order_acquire); }

 private:
  friend class JobScheduler;
  std::atomic<bool> flag_{false};
};

class JobRunner {
 public:
  enum class Result {
    kDone,     // every step finished: the job succeeded
    kStopped,  // returned early because stop_requested(): cancelled, or requeued at shutdown
  };
  virtual ~JobRunner() = default;
  // Runs `job` (its request, and its checkpoint when job.resume is kResumed) on device `device_index`. Called on a
  // worker thread, concurrently for different jobs. An exception fails the job: its what() becomes Job::error, and
  // for a layerscope::Error its kind name becomes Job::error_code.
  virtual Result Run(const Job& job, int device_index, const StopFlag& stop, JobOutput& output) = 0;
};

struct SchedulerOptions {
  int devices = 1;
  int workers_per_device = 1;
  int max_jobs_per_user = 8;
  // Warnings and errors the scheduler cannot return to a caller (e.g. the store failed while finishing a job). May be
  // called with the scheduler's lock held: it must not call back into the scheduler.
  std::function<void(const std::string&)> log;
};

// What Submit needs besides the store's NewJob.
struct SubmitOptions {
  bool use_cache = true;  // answer from a succeeded job with the same content key, when there is one
};

// A snapshot for a watcher: rows it has not seen yet, in order, and the job as it is now.
struct WatchUpdate {
  Job job;
  std::vector<ResultRow> rows;
  bool done = false;  // the job is final and every row has been returned: the watch is over
};

class JobScheduler;

// One watcher of one job; must not outlive its scheduler. Not thread-safe (one watcher, one thread); any number of
// JobWatch objects may watch a job.
class JobWatch {
 public:
  // Waits up to `max_wait` for rows past those already returned or a change of the job (state, progress), then
  // returns what there is (possibly nothing new, on a timeout). At most `max_rows` rows per call, so that a watcher
  // re-attaching to a large job is fed in bounded pieces.
  WatchUpdate Next(std::chrono::milliseconds max_wait, int64_t max_rows = 1024);

 private:
  friend class JobScheduler;
  struct Live;
  JobWatch(JobScheduler* scheduler, std::string id, int64_t next_row, std::shared_ptr<Live> live);

  JobScheduler* scheduler_;
  std::string id_;
  int64_t next_row_;
  uint64_t seen_version_ = ~uint64_t{0};  // none seen: the first Next returns at once
  bool behind_ = false;                   // the last Next left stored rows unread (max_rows)
  std::shared_ptr<Live> live_;            // null once the job was final when the watch began
};

class JobScheduler {
 public:
  // `store` and `runner` must outlive the scheduler. Nothing runs until Start.
  JobScheduler(JobStore* store, JobRunner* runner, SchedulerOptions options);
  ~JobScheduler();
  JobScheduler(const JobScheduler&) = delete;
  JobScheduler& operator=(const JobScheduler&) = delete;

  // Loads the store's queued jobs (FIFO, including those recovered after a crash) and starts the workers.
  void Start();
  // Stops the workers as the header comment says; waits for running jobs to return. Idempotent.
  void Shutdown();

  // A new job: queued, or (use_cache and a succeeded job has the same non-empty content key) a succeeded copy of
  // that job's result (which needs no worker, so it counts against no limit). Otherwise kResourceExhausted when the
  // owner is at max_jobs_per_user, kFailedPrecondition before Start or after Shutdown.
  Job Submit(const NewJob& job, const SubmitOptions& options = {});

  enum class CancelResult {
    kCancelled,     // was queued: now cancelled
    kStopping,      // is running: asked to stop, becomes cancelled when the runner returns
    kAlreadyFinal,  // had already finished (succeeded, failed or cancelled): nothing to do
  };
  // kNotFound for an unknown id. Authorization (owner or admin) is the caller's.
  CancelResult Cancel(const std::string& id);

  // Watches job `id` from row `from_row` (0: everything from the start). kNotFound for an unknown id.
  JobWatch Watch(const std::string& id, int64_t from_row = 0);

  // Jobs queued or running now, for metrics.
  struct Counts {
    int queued = 0;
    int running = 0;
  };
  Counts counts();

 private:
  friend class JobWatch;
  class Output;
  struct Running;

  void WorkerLoop(int device_index);
  void RunOne(const std::string& id, int device_index, Running* running);
  // Wakes the job's watchers after its record or rows changed; `final` also forgets it.
  void Changed(const std::string& id, bool final);
  void Log(const std::string& message);

  JobStore* const store_;
  JobRunner* const runner_;
  const SchedulerOptions options_;

  std::mutex mu_;
  std::condition_variable work_cv_;  // a job was queued, or stopping_
  bool started_ = false;
  bool stopping_ = false;
  std::deque<std::string> queue_;  // queued job ids, oldest first
  std::map<std::string, std::shared_ptr<Running>> running_;
  std::map<std::string, int> active_per_user_;                   // queued + running
  std::map<std::string, std::string> owner_of_;                  // queued and running jobs' owners
  std::map<std::string, std::shared_ptr<JobWatch::Live>> live_;  // queued and running jobs, for watchers
  std::vector<std::thread> workers_;
};

}  // namespace layerscope::jobs
