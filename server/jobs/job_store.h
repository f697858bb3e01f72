// JobStore: jobs and their result rows in one SQLite file under the server's data directory, so that a crash, a
// kill -9 or a restart loses no finished result and the queue survives.
//
// Durability: WAL journal with synchronous=FULL. WAL alone survives a killed process (committed frames are in the
// log file); FULL also fsyncs the log at every commit, so a committed row survives a power loss or kernel crash of
// the GPU box too. Our writes are few (a row per finished step, a progress update per batch), so the fsync per
// commit costs little next to a comparison. Every write is one transaction; one process may open a store at a
// time (an advisory lock on "<path>.lock", released by the kernel when the process dies).
//
// Thread-safe: one connection, serialized by a mutex. Errors are layerscope::Error naming the job id or the file:
// kNotFound (no such job), kFailedPrecondition (a transition out of a final state, or from the wrong state),
// kResourceExhausted (disk full), kDataLoss (corrupt file, or written by a newer schema), kInternal (anything else
// SQLite reports).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "server/jobs/job.h"

struct sqlite3;

namespace layerscope::jobs {

struct JobStoreOptions {
  // A job that was running when the server stopped this many times is failed instead of requeued: it is likely what
  // stops the server (a crash in the comparison), and a crash loop would hold the queue forever.
  int max_interruptions = 3;
  // Bound on the database file (0: none), so that results cannot fill the data directory's disk. Past it a write fails
  // as on a full disk (kResourceExhausted) and what was written stays. Rounded down to whole pages; the WAL file
  // may add up to about 4 MiB on top until its next checkpoint.
  int64_t max_bytes = 0;
  // Passed to sqlite3_busy_timeout: how long a statement waits for a lock held by a checkpoint before failing.
  int busy_timeout_ms = 5000;
};

// What opening the store did to the jobs an unclean stop left running.
struct RecoveryReport {
  std::vector<std::string> resumed;    // back in the queue, to continue after their checkpoint
  std::vector<std::string> restarted;  // back in the queue, to run again from the beginning
  std::vector<std::string> failed;     // over max_interruptions
};

// What a new job needs; the store adds the id, state and times.
struct NewJob {
  std::string owner;
  std::string request;
  std::string content_key;
  int64_t steps_total = 0;
};

class JobStore {
 public:
  static constexpr int kSchemaVersion = 1;

  // Opens the file at `path` (created with its schema when missing) and recovers jobs left running: each goes back
  // to the queue, resumed when it has a checkpoint and restarted otherwise, with a note; queued jobs stay queued.
  static std::unique_ptr<JobStore> Open(const std::string& path, const JobStoreOptions& options = {},
                                        RecoveryReport* report = nullptr);
  ~JobStore();
  JobStore(const JobStore&) = delete;
  JobStore& operator=(const JobStore&) = delete;

  // A new queued job.
  Job Create(const NewJob& job);
  // A new job answered from `source`'s result: succeeded at once, with a copy of its rows (one transaction).
  Job CreateFromCache(const NewJob& job, const std::string& source_id);

  // queued -> running; sets the start time (the first start only) and returns the job as the runner needs it.
  Job MarkRunning(const std::string& id);
  // Appends one row to a running job and returns its seq.
  int64_t AppendRow(const std::string& id, const std::string& data);
  // Records that (mode_index, batch) is finished: a running job resumes after it.
  void SaveCheckpoint(const std::string& id, int mode_index, int64_t batch);
  void SetProgress(const std::string& id, int64_t done, int64_t total);
  // queued or running -> `state` (a final one); sets the finish time and the error (empty when succeeded).
  void Finish(const std::string& id, JobState state, const std::string& error = "", const std::string& error_code = "");
  // running -> queued for an orderly stop (the scheduler's shutdown), as recovery does after a crash: drops rows past
  // the checkpoint and records, with `why`, whether the next run resumes or restarts. Not counted in `interruptions`:
  // the job did not stop the server.
  ResumeKind Requeue(const std::string& id, const std::string& why);

  std::optional<Job> Get(const std::string& id);
  // In submission order. `owner` empty: every user's.
  std::vector<Job> List(const std::string& owner = "");
  // Queued jobs in submission order (FIFO), for the scheduler's start.
  std::vector<Job> Queued();
  // Rows with seq >= from_seq, at most `limit`, in seq order.
  std::vector<ResultRow> ReadRows(const std::string& id, int64_t from_seq, int64_t limit = 1 << 30);
  // The most recent succeeded job with this content key that ran (not itself a cache answer); none for an empty key.
  std::optional<Job> FindCached(const std::string& content_key);

 private:
  struct Statements;

  JobStore(sqlite3* db, int lock_fd, std::string path, const JobStoreOptions& options);
  void CreateOrCheckSchema();
  void Prepare();
  void Recover(RecoveryReport* report);
  ResumeKind RequeueLocked(const Job& job, const std::string& why, bool crashed, bool* failed);
  std::optional<Job> GetLocked(const std::string& id);
  Job GetExistingLocked(const std::string& id);
  std::string InsertLocked(const NewJob& job, JobState state, const std::string& note, const std::string& cached_from,
                           int64_t steps_done, int64_t rows);
  void Exec(const char* sql);

  std::mutex mu_;
  sqlite3* const db_;
  const int lock_fd_;
  const std::string path_;
  const JobStoreOptions options_;
  std::unique_ptr<Statements> statements_;
};

}  // namespace layerscope::jobs
