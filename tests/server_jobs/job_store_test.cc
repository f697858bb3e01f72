#include "server/jobs/job_store.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <set>
#include <string>

#include "core/util/error.h"
#include "tests/server/test_dir.h"
#include "tests/support/error_of.h"

namespace layerscope::jobs {
namespace {

using server::testing::TestDir;

NewJob Spec(const std::string& owner, const std::string& request = "req", const std::string& key = "") {
  return NewJob{owner, request, key, 4};
}

// Runs `sql` on a separate, plain SQLite connection and returns the first column of the first row as text.
std::string QueryRaw(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  std::string result;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK && sqlite3_step(stmt) == SQLITE_ROW) {
    const unsigned char* text = sqlite3_column_text(stmt, 0);
    result = text == nullptr ? "" : reinterpret_cast<const char*>(text);
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return result;
}

TEST(JobStoreTest, CreatesAVersionedWalFile) {
  TestDir dir;
  const std::string path = dir.path() + "/jobs.db";
  { JobStore::Open(path); }
  EXPECT_EQ(QueryRaw(path, "PRAGMA journal_mode"), "wal");
  EXPECT_EQ(QueryRaw(path, "SELECT version FROM schema_version"), std::to_string(JobStore::kSchemaVersion));
  EXPECT_EQ(QueryRaw(path, "SELECT count(*) FROM schema_version"), "1");
  { JobStore::Open(path); }  // an existing store opens again
  EXPECT_EQ(QueryRaw(path, "SELECT count(*) FROM schema_version"), "1");
}

TEST(JobStoreTest, RefusesANewerSchemaAndForeignFiles) {
  TestDir dir;
  const std::string path = dir.path() + "/jobs.db";
  { JobStore::Open(path); }
  QueryRaw(path, "UPDATE schema_version SET version = 7");
  std::string message;
  EXPECT_EQ(KindOf([&] { JobStore::Open(path); }, &message), ErrorKind::kDataLoss);
  EXPECT_NE(message.find("schema version 7, this layerscoped reads version 1"), std::string::npos) << message;

  const std::string garbage = dir.path() + "/garbage.db";
  std::ofstream(garbage) << std::string(8192, 'x');
  EXPECT_EQ(KindOf([&] { JobStore::Open(garbage); }, &message), ErrorKind::kDataLoss);
  EXPECT_NE(message.find(garbage), std::string::npos) << message;

  const std::string other = dir.path() + "/other.db";
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(other.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "CREATE TABLE t (x)", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  EXPECT_EQ(KindOf([&] { JobStore::Open(other); }, &message), ErrorKind::kDataLoss);
  EXPECT_NE(message.find("not a layerscope job store"), std::string::npos) << message;
}

TEST(JobStoreTest, OneProcessAtATime) {
  TestDir dir;
  const std::string path = dir.path() + "/jobs.db";
  auto store = JobStore::Open(path);
  std::string message;
  EXPECT_EQ(KindOf([&] { JobStore::Open(path); }, &message), ErrorKind::kFailedPrecondition);
  EXPECT_NE(message.find("in use by another process"), std::string::npos) << message;
  store.reset();
  EXPECT_NE(JobStore::Open(path), nullptr);
}

TEST(JobStoreTest, CreateGivesAQueuedJobWithARandomId) {
  TestDir dir;
  auto store = JobStore::Open(dir.path() + "/jobs.db");
  const Job a = store->Create(Spec("alice", std::string("bin\0ary", 7), "key1"));
  const Job b = store->Create(Spec("alice"));
  EXPECT_EQ(a.id.size(), 32u);
  EXPECT_EQ(a.id.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_NE(a.id, b.id);
  EXPECT_EQ(a.state, JobState::kQueued);
  EXPECT_EQ(a.owner, "alice");
  EXPECT_EQ(a.request, std::string("bin\0ary", 7));
  EXPECT_EQ(a.content_key, "key1");
  EXPECT_EQ(a.steps_total, 4);
  EXPECT_GT(a.created_ms, 0);
  EXPECT_EQ(a.started_ms, 0);
  EXPECT_FALSE(a.checkpoint.valid);
  EXPECT_EQ(a.resume, ResumeKind::kNone);
  EXPECT_EQ(store->Get(a.id)->request, a.request);
  EXPECT_FALSE(store->Get("0123").has_value());
}

TEST(JobStoreTest, TransitionsAreCheckedAndFinalStatesAreFinal) {
  TestDir dir;
  auto store = JobStore::Open(dir.path() + "/jobs.db");
  const Job job = store->Create(Spec("alice"));
  EXPECT_EQ(KindOf([&] { store->AppendRow(job.id, "x"); }), ErrorKind::kFailedPrecondition);
  EXPECT_EQ(KindOf([&] { store->SetProgress(job.id, 1, 4); }), ErrorKind::kFailedPrecondition);

  const Job running = store->MarkRunning(job.id);
  EXPECT_EQ(running.state, JobState::kRunning);
  EXPECT_GT(running.started_ms, 0);
  std::string message;
  EXPECT_EQ(KindOf([&] { store->MarkRunning(job.id); }, &message), ErrorKind::kFailedPrecondition);
  EXPECT_EQ(message, "job " + job.id + ": cannot start: it is running, not queued");
  store->SetProgress(job.id, 2, 4);
  EXPECT_EQ(store->Get(job.id)->steps_done, 2);

  store->Finish(job.id, JobState::kFailed, "GPU out of memory", "RESOURCE_EXHAUSTED");
  const Job failed = *store->Get(job.id);
  EXPECT_EQ(failed.state, JobState::kFailed);
  EXPECT_EQ(failed.error, "GPU out of memory");
  EXPECT_EQ(failed.error_code, "RESOURCE_EXHAUSTED");
  EXPECT_GE(failed.finished_ms, failed.started_ms);

  EXPECT_EQ(KindOf([&] { store->Finish(job.id, JobState::kSucceeded); }, &message), ErrorKind::kFailedPrecondition);
  EXPECT_EQ(message, "job " + job.id + ": cannot make it succeeded: it is failed, not queued or running");
  EXPECT_EQ(KindOf([&] { store->MarkRunning(job.id); }), ErrorKind::kFailedPrecondition);
  EXPECT_EQ(KindOf([&] { store->AppendRow(job.id, "x"); }), ErrorKind::kFailedPrecondition);
  EXPECT_EQ(KindOf([&] { store->Requeue(job.id, "test"); }), ErrorKind::kFailedPrecondition);
  EXPECT_EQ(store->Get(job.id)->state, JobState::kFailed);

  EXPECT_EQ(KindOf([&] { store->Finish(job.id, JobState::kRunning); }), ErrorKind::kInvalidArgument);
  EXPECT_EQ(KindOf([&] { store->MarkRunning("feedbeef"); }, &message), ErrorKind::kNotFound);
  EXPECT_EQ(message, "job feedbeef does not exist");

  const Job queued = store->Create(Spec("bob"));
  store->Finish(queued.id, JobState::kCancelled, "cancelled before it started");
  EXPECT_EQ(store->Get(queued.id)->state, JobState::kCancelled);
}

TEST(JobStoreTest, RowsComeBackInOrderFromAnySeq) {
  TestDir dir;
  auto store = JobStore::Open(dir.path() + "/jobs.db");
  const Job job = store->Create(Spec("alice"));
  const Job other = store->Create(Spec("bob"));
  store->MarkRunning(job.id);
  store->MarkRunning(other.id);
  const std::string rows[] = {"", std::string("\0\1\2", 3), "row two", "row three", std::string(100000, 'z')};
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(store->AppendRow(job.id, rows[i]), i);
    store->AppendRow(other.id, "other");
  }
  const std::vector<ResultRow> all = store->ReadRows(job.id, 0);
  ASSERT_EQ(all.size(), 5u);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(all[i].seq, i);
    EXPECT_EQ(all[i].data, rows[i]);
  }
  const std::vector<ResultRow> tail = store->ReadRows(job.id, 3);
  ASSERT_EQ(tail.size(), 2u);
  EXPECT_EQ(tail[0].data, "row three");
  const std::vector<ResultRow> limited = store->ReadRows(job.id, 1, 2);
  ASSERT_EQ(limited.size(), 2u);
  EXPECT_EQ(limited[1].seq, 2);
  EXPECT_TRUE(store->ReadRows(job.id, 5).empty());
  EXPECT_EQ(store->Get(job.id)->rows, 5);
}

TEST(JobStoreTest, ListsByOwnerInSubmissionOrder) {
  TestDir dir;
  auto store = JobStore::Open(dir.path() + "/jobs.db");
  std::vector<std::string> alice;
  for (int i = 0; i < 3; ++i) {
    alice.push_back(store->Create(Spec("alice")).id);
    store->Create(Spec("bob"));
  }
  const std::vector<Job> listed = store->List("alice");
  ASSERT_EQ(listed.size(), 3u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(listed[i].id, alice[i]);
  EXPECT_EQ(store->List().size(), 6u);
  EXPECT_TRUE(store->List("carol").empty());
}

TEST(JobStoreTest, RecoveryRequeuesRunningJobsAndSaysHow) {
  TestDir dir;
  const std::string path = dir.path() + "/jobs.db";
  std::string resumed, restarted, queued, done;
  {
    auto store = JobStore::Open(path);
    resumed = store->Create(Spec("alice")).id;
    restarted = store->Create(Spec("alice")).id;
    queued = store->Create(Spec("bob")).id;
    done = store->Create(Spec("bob")).id;
    for (const std::string& id : {resumed, restarted, done}) store->MarkRunning(id);
    store->AppendRow(resumed, "mode 0");
    store->AppendRow(resumed, "mode 1");
    store->SaveCheckpoint(resumed, 1, 9);
    store->AppendRow(resumed, "half of mode 2");  // its step did not finish: dropped
    store->SetProgress(resumed, 2, 4);
    store->AppendRow(restarted, "half of mode 0");
    store->SetProgress(restarted, 1, 4);
    store->AppendRow(done, "final");
    store->Finish(done, JobState::kSucceeded);
    // The store goes away with jobs running: as a crash leaves it.
  }
  RecoveryReport report;
  auto store = JobStore::Open(path, {}, &report);
  EXPECT_EQ(report.resumed, std::vector<std::string>{resumed});
  EXPECT_EQ(report.restarted, std::vector<std::string>{restarted});
  EXPECT_TRUE(report.failed.empty());

  const Job r = *store->Get(resumed);
  EXPECT_EQ(r.state, JobState::kQueued);
  EXPECT_EQ(r.resume, ResumeKind::kResumed);
  EXPECT_TRUE(r.checkpoint.valid);
  EXPECT_EQ(r.checkpoint.mode_index, 1);
  EXPECT_EQ(r.checkpoint.batch, 9);
  EXPECT_EQ(r.checkpoint.rows, 2);
  EXPECT_EQ(r.rows, 2);
  EXPECT_EQ(r.interruptions, 1);
  EXPECT_EQ(r.note, "the server stopped while this job was running; resumes after mode 1 batch 9");
  ASSERT_EQ(store->ReadRows(resumed, 0).size(), 2u);
  EXPECT_EQ(store->ReadRows(resumed, 0)[1].data, "mode 1");

  const Job s = *store->Get(restarted);
  EXPECT_EQ(s.state, JobState::kQueued);
  EXPECT_EQ(s.resume, ResumeKind::kRestarted);
  EXPECT_EQ(s.rows, 0);
  EXPECT_EQ(s.steps_done, 0);
  EXPECT_TRUE(store->ReadRows(restarted, 0).empty());
  EXPECT_NE(s.note.find("restarts from the beginning"), std::string::npos);

  EXPECT_EQ(store->Get(queued)->resume, ResumeKind::kNone);
  EXPECT_EQ(store->Get(done)->state, JobState::kSucceeded);
  EXPECT_EQ(store->ReadRows(done, 0).size(), 1u);

  std::vector<std::string> fifo;
  for (const Job& job : store->Queued()) fifo.push_back(job.id);
  EXPECT_EQ(fifo, (std::vector<std::string>{resumed, restarted, queued}));

  // A resumed job runs again and keeps its first start time.
  const Job again = store->MarkRunning(resumed);
  EXPECT_EQ(again.started_ms, r.started_ms);
  EXPECT_EQ(store->AppendRow(resumed, "mode 2"), 2);
}

TEST(JobStoreTest, AJobThatKeepsStoppingTheServerFails) {
  TestDir dir;
  const std::string path = dir.path() + "/jobs.db";
  JobStoreOptions options;
  options.max_interruptions = 2;
  std::string id;
  { id = JobStore::Open(path, options)->Create(Spec("alice")).id; }
  for (int crash = 1; crash <= 2; ++crash) {
    { JobStore::Open(path, options)->MarkRunning(id); }
    RecoveryReport report;
    auto store = JobStore::Open(path, options, &report);
    EXPECT_EQ(report.restarted.size(), 1u) << crash;
    EXPECT_EQ(store->Get(id)->interruptions, crash);
  }
  { JobStore::Open(path, options)->MarkRunning(id); }
  RecoveryReport report;
  auto store = JobStore::Open(path, options, &report);
  EXPECT_EQ(report.failed, std::vector<std::string>{id});
  const Job job = *store->Get(id);
  EXPECT_EQ(job.state, JobState::kFailed);
  EXPECT_EQ(job.error_code, "ABORTED");
  EXPECT_NE(job.error.find("stopped 3 times while this job was running (limit 2)"), std::string::npos) << job.error;
}

TEST(JobStoreTest, RequeueAtShutdownKeepsTheCheckpointAndCountsNoInterruption) {
  TestDir dir;
  auto store = JobStore::Open(dir.path() + "/jobs.db");
  const std::string id = store->Create(Spec("alice")).id;
  store->MarkRunning(id);
  store->AppendRow(id, "a");
  store->SaveCheckpoint(id, 0, 3);
  store->AppendRow(id, "b");
  EXPECT_EQ(store->Requeue(id, "shutdown"), ResumeKind::kResumed);
  const Job job = *store->Get(id);
  EXPECT_EQ(job.state, JobState::kQueued);
  EXPECT_EQ(job.rows, 1);
  EXPECT_EQ(job.interruptions, 0);
  EXPECT_EQ(job.note, "shutdown; resumes after mode 0 batch 3");
}

TEST(JobStoreTest, FindsCachedResultsByContentKey) {
  TestDir dir;
  auto store = JobStore::Open(dir.path() + "/jobs.db");
  EXPECT_FALSE(store->FindCached("").has_value());
  const std::string failed = store->Create(Spec("alice", "r", "k")).id;
  store->MarkRunning(failed);
  store->Finish(failed, JobState::kFailed, "boom");
  EXPECT_FALSE(store->FindCached("k").has_value());

  const std::string ran = store->Create(Spec("alice", "r", "k")).id;
  store->MarkRunning(ran);
  store->AppendRow(ran, "row0");
  store->AppendRow(ran, "row1");
  store->SetProgress(ran, 4, 4);
  store->Finish(ran, JobState::kSucceeded);
  ASSERT_TRUE(store->FindCached("k").has_value());
  EXPECT_EQ(store->FindCached("k")->id, ran);
  EXPECT_FALSE(store->FindCached("other").has_value());

  const Job copy = store->CreateFromCache(Spec("bob", "r", "k"), ran);
  EXPECT_NE(copy.id, ran);
  EXPECT_EQ(copy.owner, "bob");
  EXPECT_EQ(copy.state, JobState::kSucceeded);
  EXPECT_EQ(copy.cached_from, ran);
  EXPECT_EQ(copy.rows, 2);
  EXPECT_EQ(copy.steps_done, 4);
  EXPECT_GT(copy.finished_ms, 0);
  const std::vector<ResultRow> rows = store->ReadRows(copy.id, 0);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[1].data, "row1");
  EXPECT_EQ(store->FindCached("k")->id, ran);  // a copy is never the source of another
  EXPECT_EQ(KindOf([&] { store->CreateFromCache(Spec("bob"), failed); }), ErrorKind::kFailedPrecondition);
}

// A bounded store refuses writes past its bound like a full disk, keeps what it had, and still records the job's end
// (an update in place needs no new page).
TEST(JobStoreTest, AFullStoreRefusesRowsAndKeepsWhatItHas) {
  TestDir dir;
  JobStoreOptions options;
  options.max_bytes = 256 << 10;
  auto store = JobStore::Open(dir.path() + "/jobs.db", options);
  const std::string id = store->Create(Spec("alice")).id;
  store->MarkRunning(id);
  int64_t written = 0;
  std::string message;
  const ErrorKind kind = KindOf(
      [&] {
        for (;; ++written) store->AppendRow(id, std::string(8192, 'r'));
      },
      &message);
  EXPECT_EQ(kind, ErrorKind::kResourceExhausted);
  EXPECT_NE(message.find("disk full, or the job store's max_bytes reached"), std::string::npos) << message;
  EXPECT_GT(written, 10);
  EXPECT_LT(written, 40);
  EXPECT_EQ(store->Get(id)->rows, written);
  EXPECT_EQ(static_cast<int64_t>(store->ReadRows(id, 0).size()), written);
  store->Finish(id, JobState::kFailed, message, "RESOURCE_EXHAUSTED");
  EXPECT_EQ(store->Get(id)->state, JobState::kFailed);
}

// A child process writes rows as fast as it can and reports each committed step through a pipe; it is SIGKILLed
// mid-way (most likely inside a transaction). Every step it reported must be in the reopened file, which must be
// consistent.
TEST(JobStoreTest, SurvivesKillDashNine) {
  TestDir dir;
  const std::string path = dir.path() + "/jobs.db";
  std::string finished_id, running_id;
  {
    auto store = JobStore::Open(path);
    finished_id = store->Create(Spec("alice")).id;
    store->MarkRunning(finished_id);
    for (int i = 0; i < 3; ++i) store->AppendRow(finished_id, "finished " + std::to_string(i));
    store->Finish(finished_id, JobState::kSucceeded);
    running_id = store->Create(Spec("alice")).id;
  }
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    close(fds[0]);
    try {
      auto store = JobStore::Open(path);
      store->MarkRunning(running_id);
      for (int64_t step = 0;; ++step) {
        store->AppendRow(running_id, "row " + std::to_string(step));
        store->SaveCheckpoint(running_id, 0, step);
        store->SetProgress(running_id, step + 1, 1 << 30);
        if (write(fds[1], &step, sizeof(step)) != sizeof(step)) _exit(3);
      }
    } catch (...) {
      _exit(2);
    }
  }
  close(fds[1]);
  int64_t last = -1;
  int64_t step = 0;
  while (last < 150 && read(fds[0], &step, sizeof(step)) == sizeof(step)) last = step;
  kill(child, SIGKILL);
  // Reports the child committed before it died are still in the pipe.
  while (read(fds[0], &step, sizeof(step)) == sizeof(step)) last = step;
  close(fds[0]);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the child stopped by itself, status " << status;
  ASSERT_GE(last, 150);

  RecoveryReport report;
  auto store = JobStore::Open(path, {}, &report);
  EXPECT_EQ(QueryRaw(path, "PRAGMA integrity_check"), "ok");
  EXPECT_EQ(report.resumed, std::vector<std::string>{running_id});
  const Job job = *store->Get(running_id);
  EXPECT_EQ(job.state, JobState::kQueued);
  EXPECT_GE(job.checkpoint.batch, last);
  EXPECT_EQ(job.rows, job.checkpoint.batch + 1);
  const std::vector<ResultRow> rows = store->ReadRows(running_id, 0);
  ASSERT_EQ(static_cast<int64_t>(rows.size()), job.rows);
  for (size_t i = 0; i < rows.size(); ++i) {
    ASSERT_EQ(rows[i].seq, static_cast<int64_t>(i));
    ASSERT_EQ(rows[i].data, "row " + std::to_string(i));
  }
  EXPECT_EQ(store->Get(finished_id)->state, JobState::kSucceeded);
  EXPECT_EQ(store->ReadRows(finished_id, 0).size(), 3u);
}

}  // namespace
}  // namespace layerscope::jobs
