#include "server/jobs/job_scheduler.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <set>
#include <thread>

#include "core/util/error.h"
#include "tests/server/test_dir.h"
#include "tests/support/error_of.h"

namespace layerscope::jobs {
namespace {

using server::testing::TestDir;
using namespace std::chrono_literals;

// A JobRunner that calls a test function: the scheduler runs real work, defined by each test.
class FunctionRunner : public JobRunner {
 public:
  using Fn = std::function<Result(const Job&, int, const StopFlag&, JobOutput&)>;
  explicit FunctionRunner(Fn fn) : fn_(std::move(fn)) {}
  Result Run(const Job& job, int device, const StopFlag& stop, JobOutput& out) override {
    {
      std::lock_guard<std::mutex> lock(mu);
      ++runs[job.id];
    }
    return fn_(job, device, stop, out);
  }
  int RunsOf(const std::string& id) {
    std::lock_guard<std::mutex> lock(mu);
    return runs.count(id) ? runs[id] : 0;
  }

  std::mutex mu;
  std::map<std::string, int> runs;

 private:
  Fn fn_;
};

// Jobs that run until the test releases them (by request string), recording which started where.
class Gates {
 public:
  JobRunner::Result Enter(const Job& job, int device, const StopFlag& stop) {
    std::unique_lock<std::mutex> lock(mu_);
    started_.push_back({job.request, device});
    cv_.notify_all();
    while (!released_.count(job.request) && !stop.stop_requested()) cv_.wait_for(lock, 2ms);
    return released_.count(job.request) ? JobRunner::Result::kDone : JobRunner::Result::kStopped;
  }
  void Release(const std::string& request) {
    std::lock_guard<std::mutex> lock(mu_);
    released_.insert(request);
    cv_.notify_all();
  }
  // Waits until `n` jobs have started; returns (request, device) in start order.
  std::vector<std::pair<std::string, int>> WaitStarted(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    EXPECT_TRUE(cv_.wait_for(lock, 10s, [&] { return started_.size() >= n; })) << "waiting for " << n << " starts";
    return started_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::set<std::string> released_;
  std::vector<std::pair<std::string, int>> started_;
};

// Everything a watcher sees until the job ends.
struct Watched {
  Job job;
  std::vector<ResultRow> rows;
};

Watched WatchToEnd(JobScheduler& scheduler, const std::string& id, int64_t from = 0, int64_t max_rows = 1024) {
  JobWatch watch = scheduler.Watch(id, from);
  Watched seen;
  const auto deadline = std::chrono::steady_clock::now() + 15s;
  while (std::chrono::steady_clock::now() < deadline) {
    WatchUpdate update = watch.Next(500ms, max_rows);
    for (ResultRow& row : update.rows) seen.rows.push_back(std::move(row));
    seen.job = std::move(update.job);
    if (update.done) return seen;
  }
  ADD_FAILURE() << "job " << id << " did not end";
  return seen;
}

NewJob Spec(const std::string& owner, const std::string& request, const std::string& key = "") {
  return NewJob{owner, request, key, 0};
}

class JobSchedulerTest : public ::testing::Test {
 protected:
  void SetUp() override { store_ = JobStore::Open(dir_.path() + "/jobs.db"); }
  SchedulerOptions Options(int devices, int workers, int per_user) {
    SchedulerOptions options;
    options.devices = devices;
    options.workers_per_device = workers;
    options.max_jobs_per_user = per_user;
    options.log = [this](const std::string& message) {
      std::lock_guard<std::mutex> lock(log_mu_);
      log_.push_back(message);
    };
    return options;
  }

  TestDir dir_;
  std::unique_ptr<JobStore> store_;
  std::mutex log_mu_;
  std::vector<std::string> log_;
};

TEST_F(JobSchedulerTest, RunsJobsAndStoresTheirRows) {
  FunctionRunner runner([](const Job& job, int, const StopFlag&, JobOutput& out) {
    for (int i = 0; i < 3; ++i) {
      out.EmitRow(job.request + " row " + std::to_string(i));
      out.EmitProgress(i + 1, 3);
    }
    return JobRunner::Result::kDone;
  });
  JobScheduler scheduler(store_.get(), &runner, Options(1, 1, 8));
  scheduler.Start();
  const Job submitted = scheduler.Submit(Spec("alice", "a"));
  EXPECT_EQ(submitted.state, JobState::kQueued);
  const Watched seen = WatchToEnd(scheduler, submitted.id);
  EXPECT_EQ(seen.job.state, JobState::kSucceeded);
  EXPECT_EQ(seen.job.steps_done, 3);
  EXPECT_EQ(seen.job.steps_total, 3);
  ASSERT_EQ(seen.rows.size(), 3u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(seen.rows[i].data, "a row " + std::to_string(i));
  EXPECT_EQ(runner.RunsOf(submitted.id), 1);
  EXPECT_EQ(scheduler.counts().queued + scheduler.counts().running, 0);
}

TEST_F(JobSchedulerTest, StartsJobsFirstInFirstOutOnWhicheverDeviceIsFree) {
  Gates gates;
  FunctionRunner runner(
      [&](const Job& job, int device, const StopFlag& stop, JobOutput&) { return gates.Enter(job, device, stop); });
  JobScheduler scheduler(store_.get(), &runner, Options(/*devices=*/3, /*workers=*/1, 100));
  scheduler.Start();
  std::vector<std::string> ids;
  for (int i = 0; i < 9; ++i) ids.push_back(scheduler.Submit(Spec("alice", "j" + std::to_string(i))).id);

  auto started = gates.WaitStarted(3);
  std::set<std::string> first({started[0].first, started[1].first, started[2].first});
  EXPECT_EQ(first, (std::set<std::string>{"j0", "j1", "j2"}));
  std::set<int> devices({started[0].second, started[1].second, started[2].second});
  EXPECT_EQ(devices, (std::set<int>{0, 1, 2}));
  std::map<std::string, int> device_of;
  for (const auto& [request, device] : started) device_of[request] = device;
  // Each release frees one device; the oldest queued job starts there.
  const char* release_order[] = {"j1", "j0", "j2", "j4", "j3", "j5"};
  for (int k = 0; k < 6; ++k) {
    gates.Release(release_order[k]);
    started = gates.WaitStarted(4 + k);
    ASSERT_EQ(started.size(), 4u + k);
    EXPECT_EQ(started.back().first, "j" + std::to_string(3 + k));
    EXPECT_EQ(started.back().second, device_of[release_order[k]]);
    device_of[started.back().first] = started.back().second;
  }
  for (const char* rest : {"j6", "j7", "j8"}) gates.Release(rest);
  for (const std::string& id : ids) EXPECT_EQ(WatchToEnd(scheduler, id).job.state, JobState::kSucceeded);
}

TEST_F(JobSchedulerTest, LimitsQueuedAndRunningJobsPerUser) {
  Gates gates;
  FunctionRunner runner(
      [&](const Job& job, int device, const StopFlag& stop, JobOutput&) { return gates.Enter(job, device, stop); });
  JobScheduler scheduler(store_.get(), &runner, Options(1, 1, /*per_user=*/2));
  scheduler.Start();
  const std::string first = scheduler.Submit(Spec("alice", "a1")).id;
  scheduler.Submit(Spec("alice", "a2"));
  std::string message;
  EXPECT_EQ(KindOf([&] { scheduler.Submit(Spec("alice", "a3")); }, &message), ErrorKind::kResourceExhausted);
  EXPECT_EQ(message,
            "user alice has 2 jobs queued or running, this server's limit max_jobs_per_user = 2; wait for one to "
            "finish or cancel one");
  scheduler.Submit(Spec("bob", "b1"));  // others are not affected
  gates.Release("a1");
  WatchToEnd(scheduler, first);
  const std::string third = scheduler.Submit(Spec("alice", "a3")).id;  // room again
  for (const char* r : {"a2", "b1", "a3"}) gates.Release(r);
  EXPECT_EQ(WatchToEnd(scheduler, third).job.state, JobState::kSucceeded);
  EXPECT_EQ(store_->List("alice").size(), 3u);
}

TEST_F(JobSchedulerTest, CancelsQueuedAndRunningJobs) {
  Gates gates;
  FunctionRunner runner([&](const Job& job, int device, const StopFlag& stop, JobOutput& out) {
    out.EmitRow("started " + job.request);
    return gates.Enter(job, device, stop);
  });
  JobScheduler scheduler(store_.get(), &runner, Options(1, 1, 8));
  scheduler.Start();
  const std::string running = scheduler.Submit(Spec("alice", "running")).id;
  const std::string queued = scheduler.Submit(Spec("alice", "queued")).id;
  gates.WaitStarted(1);

  EXPECT_EQ(scheduler.Cancel(queued), JobScheduler::CancelResult::kCancelled);
  EXPECT_EQ(store_->Get(queued)->state, JobState::kCancelled);
  EXPECT_EQ(scheduler.Cancel(queued), JobScheduler::CancelResult::kAlreadyFinal);

  EXPECT_EQ(scheduler.Cancel(running), JobScheduler::CancelResult::kStopping);
  const Watched seen = WatchToEnd(scheduler, running);
  EXPECT_EQ(seen.job.state, JobState::kCancelled);
  EXPECT_EQ(seen.job.error, "cancelled while running");
  EXPECT_EQ(seen.job.error_code, "CANCELLED");
  ASSERT_EQ(seen.rows.size(), 1u);  // what it emitted before the cancel stays

  // The cancelled queued job never ran, and the worker is free for the next one.
  const std::string next = scheduler.Submit(Spec("alice", "next")).id;
  gates.Release("next");
  EXPECT_EQ(WatchToEnd(scheduler, next).job.state, JobState::kSucceeded);
  EXPECT_EQ(runner.RunsOf(queued), 0);
  EXPECT_EQ(KindOf([&] { scheduler.Cancel("00000000000000000000000000000000"); }), ErrorKind::kNotFound);
}

TEST_F(JobSchedulerTest, WatchersReattachFromTheStartAndNeverHoldTheJob) {
  std::mutex mu;
  std::condition_variable cv;
  int allowed = 0;  // rows the runner may emit so far
  FunctionRunner runner([&](const Job&, int, const StopFlag&, JobOutput& out) {
    for (int i = 0; i < 6; ++i) {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return allowed > i; });
      lock.unlock();
      out.EmitRow("row " + std::to_string(i));
    }
    return JobRunner::Result::kDone;
  });
  const auto allow = [&](int n) {
    std::lock_guard<std::mutex> lock(mu);
    allowed = n;
    cv.notify_all();
  };
  JobScheduler scheduler(store_.get(), &runner, Options(1, 1, 8));
  scheduler.Start();
  const std::string id = scheduler.Submit(Spec("alice", "w")).id;
  allow(2);
  {
    // A watcher that reads two rows and goes away (a client that disconnected).
    JobWatch gone = scheduler.Watch(id);
    std::vector<ResultRow> rows;
    while (rows.size() < 2) {
      for (ResultRow& row : gone.Next(1s).rows) rows.push_back(std::move(row));
    }
    EXPECT_EQ(rows[1].data, "row 1");
  }
  // Re-attached: everything from the start, then live rows; a second watcher reads one row per call.
  std::thread other([&] {
    const Watched small = WatchToEnd(scheduler, id, 0, /*max_rows=*/1);
    ASSERT_EQ(small.rows.size(), 6u);
    for (int i = 0; i < 6; ++i) EXPECT_EQ(small.rows[i].seq, i);
  });
  allow(4);
  std::thread rest([&] {
    std::this_thread::sleep_for(20ms);
    allow(6);
  });
  const Watched seen = WatchToEnd(scheduler, id);
  rest.join();
  other.join();
  ASSERT_EQ(seen.rows.size(), 6u);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(seen.rows[i].data, "row " + std::to_string(i));
  EXPECT_EQ(seen.job.state, JobState::kSucceeded);
  // From a row number, and after the end: the stored rows at once.
  const Watched late = WatchToEnd(scheduler, id, 4);
  ASSERT_EQ(late.rows.size(), 2u);
  EXPECT_EQ(late.rows[0].data, "row 4");
  EXPECT_EQ(KindOf([&] { scheduler.Watch("nope"); }), ErrorKind::kNotFound);
}

TEST_F(JobSchedulerTest, AFailingJobRecordsItsErrorAndTheNextRuns) {
  FunctionRunner runner([](const Job& job, int, const StopFlag&, JobOutput& out) {
    if (job.request == "oom") throw Error(ErrorKind::kResourceExhausted, "CUDA out of memory (tried 80 GiB)");
    if (job.request == "std") throw std::runtime_error("plain exception");
    out.EmitRow("ok");
    return JobRunner::Result::kDone;
  });
  JobScheduler scheduler(store_.get(), &runner, Options(1, 1, 8));
  scheduler.Start();
  const std::string oom = scheduler.Submit(Spec("alice", "oom")).id;
  const std::string plain = scheduler.Submit(Spec("alice", "std")).id;
  const std::string ok = scheduler.Submit(Spec("alice", "fine")).id;
  const Job failed = WatchToEnd(scheduler, oom).job;
  EXPECT_EQ(failed.state, JobState::kFailed);
  EXPECT_EQ(failed.error, "CUDA out of memory (tried 80 GiB)");
  EXPECT_EQ(failed.error_code, "RESOURCE_EXHAUSTED");
  EXPECT_EQ(WatchToEnd(scheduler, plain).job.error_code, "INTERNAL");
  EXPECT_EQ(WatchToEnd(scheduler, ok).job.state, JobState::kSucceeded);
}

TEST_F(JobSchedulerTest, AnswersARepeatFromTheCache) {
  FunctionRunner runner([](const Job& job, int, const StopFlag&, JobOutput& out) {
    out.EmitRow("result of " + job.request);
    return JobRunner::Result::kDone;
  });
  JobScheduler scheduler(store_.get(), &runner, Options(1, 1, 1));
  scheduler.Start();
  const std::string first = scheduler.Submit(Spec("alice", "r", "digest")).id;
  WatchToEnd(scheduler, first);
  // A cache answer takes no worker and none of bob's quota of 1 (the rerun below still fits).
  const Job cached = scheduler.Submit(Spec("bob", "r", "digest"));
  EXPECT_EQ(cached.state, JobState::kSucceeded);
  EXPECT_EQ(cached.cached_from, first);
  const Watched seen = WatchToEnd(scheduler, cached.id);
  ASSERT_EQ(seen.rows.size(), 1u);
  EXPECT_EQ(seen.rows[0].data, "result of r");
  EXPECT_EQ(runner.runs.size(), 1u);

  SubmitOptions fresh;
  fresh.use_cache = false;
  const Job rerun = scheduler.Submit(Spec("bob", "r", "digest"), fresh);
  EXPECT_EQ(rerun.state, JobState::kQueued);
  EXPECT_EQ(WatchToEnd(scheduler, rerun.id).job.state, JobState::kSucceeded);
  EXPECT_EQ(runner.RunsOf(rerun.id), 1);
}

TEST_F(JobSchedulerTest, ShutdownRequeuesRunningJobsAndTheNextStartResumesThem) {
  std::atomic<bool> at_poll{false};
  FunctionRunner first_life([&](const Job&, int, const StopFlag& stop, JobOutput& out) {
    out.EmitRow("mode 0");
    out.EmitCheckpoint(0, 7);
    out.EmitRow("half of mode 1");
    at_poll = true;
    while (!stop.stop_requested()) std::this_thread::sleep_for(1ms);
    return JobRunner::Result::kStopped;
  });
  std::string running, queued;
  {
    JobScheduler scheduler(store_.get(), &first_life, Options(1, 1, 8));
    scheduler.Start();
    running = scheduler.Submit(Spec("alice", "long")).id;
    queued = scheduler.Submit(Spec("alice", "waiting")).id;
    while (!at_poll) std::this_thread::sleep_for(1ms);
    scheduler.Shutdown();
    EXPECT_EQ(KindOf([&] { scheduler.Submit(Spec("alice", "late")); }), ErrorKind::kFailedPrecondition);
  }
  const Job requeued = *store_->Get(running);
  EXPECT_EQ(requeued.state, JobState::kQueued);
  EXPECT_EQ(requeued.resume, ResumeKind::kResumed);
  EXPECT_EQ(requeued.rows, 1);
  EXPECT_EQ(requeued.interruptions, 0);
  EXPECT_EQ(requeued.note, "the server shut down while this job was running; resumes after mode 0 batch 7");
  EXPECT_EQ(store_->Get(queued)->state, JobState::kQueued);
  EXPECT_EQ(first_life.RunsOf(queued), 0);

  std::mutex mu;
  std::vector<std::string> order;
  FunctionRunner second_life([&](const Job& job, int, const StopFlag&, JobOutput& out) {
    {
      std::lock_guard<std::mutex> lock(mu);
      order.push_back(job.id);
    }
    if (job.resume == ResumeKind::kResumed) {
      EXPECT_EQ(job.checkpoint.mode_index, 0);
      EXPECT_EQ(job.checkpoint.batch, 7);
      out.EmitRow("mode 1");
    } else {
      out.EmitRow("all of " + job.request);
    }
    return JobRunner::Result::kDone;
  });
  JobScheduler scheduler(store_.get(), &second_life, Options(1, 1, 8));
  scheduler.Start();
  const Watched resumed = WatchToEnd(scheduler, running);
  EXPECT_EQ(resumed.job.state, JobState::kSucceeded);
  ASSERT_EQ(resumed.rows.size(), 2u);
  EXPECT_EQ(resumed.rows[0].data, "mode 0");
  EXPECT_EQ(resumed.rows[1].data, "mode 1");
  EXPECT_EQ(WatchToEnd(scheduler, queued).job.state, JobState::kSucceeded);
  EXPECT_EQ(order, (std::vector<std::string>{running, queued}));
}

TEST_F(JobSchedulerTest, RunsJobsRecoveredAfterACrash) {
  const std::string path = dir_.path() + "/crashed.db";
  std::string id;
  {
    auto crashed = JobStore::Open(path);
    id = crashed->Create(Spec("alice", "r")).id;
    crashed->MarkRunning(id);
    crashed->AppendRow(id, "lost half");
  }
  auto store = JobStore::Open(path);
  FunctionRunner runner([](const Job& job, int, const StopFlag&, JobOutput& out) {
    EXPECT_EQ(job.resume, ResumeKind::kRestarted);
    out.EmitRow("whole");
    return JobRunner::Result::kDone;
  });
  JobScheduler scheduler(store.get(), &runner, Options(2, 1, 8));
  scheduler.Start();
  const Watched seen = WatchToEnd(scheduler, id);
  EXPECT_EQ(seen.job.state, JobState::kSucceeded);
  ASSERT_EQ(seen.rows.size(), 1u);
  EXPECT_EQ(seen.rows[0].data, "whole");
}

// Disk full while a job writes: the job fails with the store's error and keeps its rows; the scheduler carries on.
TEST_F(JobSchedulerTest, AFullStoreFailsTheJobAndKeepsItsRows) {
  JobStoreOptions bounded;
  bounded.max_bytes = 256 << 10;
  auto store = JobStore::Open(dir_.path() + "/bounded.db", bounded);
  FunctionRunner runner([](const Job&, int, const StopFlag&, JobOutput& out) -> JobRunner::Result {
    while (true) out.EmitRow(std::string(8192, 'r'));  // until the store refuses: EmitRow throws
  });
  JobScheduler scheduler(store.get(), &runner, Options(1, 1, 8));
  scheduler.Start();
  const std::string big = scheduler.Submit(Spec("alice", "big")).id;
  const Watched seen = WatchToEnd(scheduler, big);
  EXPECT_EQ(seen.job.state, JobState::kFailed);
  EXPECT_EQ(seen.job.error_code, "RESOURCE_EXHAUSTED");
  EXPECT_NE(seen.job.error.find("max_bytes"), std::string::npos) << seen.job.error;
  EXPECT_GT(seen.rows.size(), 10u);
  EXPECT_EQ(static_cast<int64_t>(seen.rows.size()), seen.job.rows);
  EXPECT_EQ(scheduler.counts().running, 0);
}

// 50 clients submit 10 jobs each at once and watch them: every job runs exactly once, ends succeeded with exactly
// its rows, and nothing deadlocks.
TEST_F(JobSchedulerTest, FiftyClientsTenJobsEach) {
  constexpr int kClients = 50;
  constexpr int kJobsPerClient = 10;
  FunctionRunner runner([](const Job& job, int, const StopFlag&, JobOutput& out) {
    for (int i = 0; i < 2; ++i) out.EmitRow(job.request + "/" + std::to_string(i));
    out.EmitProgress(2, 2);
    return JobRunner::Result::kDone;
  });
  JobScheduler scheduler(store_.get(), &runner, Options(/*devices=*/2, /*workers=*/2, kJobsPerClient));
  scheduler.Start();
  std::atomic<int> good{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      const std::string user = "user" + std::to_string(c);
      std::vector<std::string> ids;
      for (int j = 0; j < kJobsPerClient; ++j) {
        ids.push_back(scheduler.Submit(Spec(user, user + "-" + std::to_string(j))).id);
      }
      for (int j = 0; j < kJobsPerClient; ++j) {
        const Watched seen = WatchToEnd(scheduler, ids[j]);
        const std::string request = user + "-" + std::to_string(j);
        if (seen.job.state == JobState::kSucceeded && seen.rows.size() == 2 && seen.rows[0].data == request + "/0" &&
            seen.rows[1].data == request + "/1") {
          ++good;
        }
      }
    });
  }
  for (std::thread& client : clients) client.join();
  EXPECT_EQ(good.load(), kClients * kJobsPerClient);
  EXPECT_EQ(runner.runs.size(), static_cast<size_t>(kClients * kJobsPerClient));
  for (const auto& [id, runs] : runner.runs) EXPECT_EQ(runs, 1) << id;
  EXPECT_EQ(store_->List().size(), static_cast<size_t>(kClients * kJobsPerClient));
  EXPECT_EQ(scheduler.counts().queued + scheduler.counts().running, 0);
  EXPECT_TRUE(log_.empty());
}

}  // namespace
}  // namespace layerscope::jobs
