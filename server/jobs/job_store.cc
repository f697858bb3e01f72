#include "server/jobs/job_store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <utility>

#include "core/util/error.h"

namespace layerscope::jobs {
namespace {

const char* const kSchema[] = {
    "CREATE TABLE schema_version (version INTEGER NOT NULL)",
    // seq orders submissions (FIFO); AUTOINCREMENT so that a number is never reused after a delete.
    "CREATE TABLE jobs ("
    " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    " id TEXT NOT NULL UNIQUE,"
    " owner TEXT NOT NULL,"
    " state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),"
    " created_ms INTEGER NOT NULL, started_ms INTEGER NOT NULL DEFAULT 0, finished_ms INTEGER NOT NULL DEFAULT 0,"
    " request BLOB NOT NULL, content_key TEXT NOT NULL,"
    " steps_done INTEGER NOT NULL DEFAULT 0, steps_total INTEGER NOT NULL DEFAULT 0,"
    " error TEXT NOT NULL DEFAULT '', error_code TEXT NOT NULL DEFAULT '',"
    " ckpt_mode INTEGER, ckpt_batch INTEGER, ckpt_rows INTEGER NOT NULL DEFAULT 0,"
    " resume TEXT NOT NULL DEFAULT 'none', interruptions INTEGER NOT NULL DEFAULT 0,"
    " note TEXT NOT NULL DEFAULT '', cached_from TEXT NOT NULL DEFAULT '',"
    " row_count INTEGER NOT NULL DEFAULT 0)",
    "CREATE INDEX jobs_by_owner ON jobs (owner, seq)",
    "CREATE INDEX jobs_by_state ON jobs (state, seq)",
    "CREATE INDEX jobs_by_key ON jobs (content_key, state, seq)",
    "CREATE TABLE result_rows (job_id TEXT NOT NULL, seq INTEGER NOT NULL, data BLOB NOT NULL,"
    " PRIMARY KEY (job_id, seq)) WITHOUT ROWID",
};

#define LS_JOB_COLUMNS                                                                                            \
  "id, owner, state, created_ms, started_ms, finished_ms, request, content_key, steps_done, steps_total, error, " \
  "error_code, ckpt_mode, ckpt_batch, ckpt_rows, resume, interruptions, note, cached_from, row_count"

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

JobState StateFromName(const std::string& name) {
  for (JobState s :
       {JobState::kQueued, JobState::kRunning, JobState::kSucceeded, JobState::kFailed, JobState::kCancelled}) {
    if (name == JobStateName(s)) return s;
  }
  throw Error(ErrorKind::kDataLoss, "job store: unknown job state '" + name + "'");
}

ResumeKind ResumeFromName(const std::string& name) {
  for (ResumeKind k : {ResumeKind::kNone, ResumeKind::kResumed, ResumeKind::kRestarted}) {
    if (name == ResumeKindName(k)) return k;
  }
  throw Error(ErrorKind::kDataLoss, "job store: unknown resume kind '" + name + "'");
}

// Throws the Error for SQLite result `rc`: disk full and corruption get their own kinds, since the caller can tell
// a user about them; anything else is a bug or an environment problem (kInternal).
[[noreturn]] void FailSqlite(sqlite3* db, const std::string& path, const std::string& what, int rc) {
  const std::string message = "job store " + path + ": " + what + ": " + sqlite3_errmsg(db);
  switch (rc & 0xff) {
    case SQLITE_FULL:
      throw Error(ErrorKind::kResourceExhausted, message + " (disk full, or the job store's max_bytes reached)");
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB: throw Error(ErrorKind::kDataLoss, message);
    default: throw Error(ErrorKind::kInternal, message);
  }
}

// A prepared statement, kept for the store's life; each use (Use) resets and unbinds it when it ends.
class Statement {
 public:
  Statement(sqlite3* db, const std::string& path, const char* sql) : db_(db), path_(path) {
    const int rc = sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr);
    if (rc != SQLITE_OK) FailSqlite(db, path, std::string("preparing \"") + sql + "\"", rc);
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  class Use {
   public:
    explicit Use(Statement* s) : s_(s) {}
    ~Use() {
      sqlite3_reset(s_->stmt_);
      sqlite3_clear_bindings(s_->stmt_);
    }
    Use(const Use&) = delete;
    Use& operator=(const Use&) = delete;

    Use& Bind(int i, const std::string& text) {
      Check(sqlite3_bind_text(s_->stmt_, i, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT));
      return *this;
    }
    Use& BindBlob(int i, const std::string& bytes) {
      // A zero-length blob is still a blob, not the NULL that a NOT NULL column refuses.
      Check(sqlite3_bind_blob(s_->stmt_, i, bytes.empty() ? "" : bytes.data(), static_cast<int>(bytes.size()),
                              SQLITE_TRANSIENT));
      return *this;
    }
    Use& Bind(int i, int64_t value) {
      Check(sqlite3_bind_int64(s_->stmt_, i, value));
      return *this;
    }
    // True while there is a row to read.
    bool Step() {
      const int rc = sqlite3_step(s_->stmt_);
      if (rc == SQLITE_ROW) return true;
      if (rc == SQLITE_DONE) return false;
      FailSqlite(s_->db_, s_->path_, std::string("running \"") + sqlite3_sql(s_->stmt_) + "\"", rc);
    }
    // Runs a statement that returns no rows; the number of rows it changed.
    int Run() {
      while (Step()) {
      }
      return sqlite3_changes(s_->db_);
    }
    int64_t Int(int col) const { return sqlite3_column_int64(s_->stmt_, col); }
    bool IsNull(int col) const { return sqlite3_column_type(s_->stmt_, col) == SQLITE_NULL; }
    std::string Bytes(int col) const {
      const void* p = sqlite3_column_blob(s_->stmt_, col);
      const int n = sqlite3_column_bytes(s_->stmt_, col);
      return p == nullptr ? std::string() : std::string(static_cast<const char*>(p), n);
    }

   private:
    void Check(int rc) {
      if (rc != SQLITE_OK) FailSqlite(s_->db_, s_->path_, "binding a parameter", rc);
    }
    Statement* s_;
  };

 private:
  sqlite3* db_;
  const std::string& path_;
  sqlite3_stmt* stmt_ = nullptr;
};

Job ReadJob(const Statement::Use& use) {
  Job job;
  job.id = use.Bytes(0);
  job.owner = use.Bytes(1);
  job.state = StateFromName(use.Bytes(2));
  job.created_ms = use.Int(3);
  job.started_ms = use.Int(4);
  job.finished_ms = use.Int(5);
  job.request = use.Bytes(6);
  job.content_key = use.Bytes(7);
  job.steps_done = use.Int(8);
  job.steps_total = use.Int(9);
  job.error = use.Bytes(10);
  job.error_code = use.Bytes(11);
  job.checkpoint.valid = !use.IsNull(12);
  if (job.checkpoint.valid) {
    job.checkpoint.mode_index = static_cast<int>(use.Int(12));
    job.checkpoint.batch = use.Int(13);
    job.checkpoint.rows = use.Int(14);
  }
  job.resume = ResumeFromName(use.Bytes(15));
  job.interruptions = static_cast<int>(use.Int(16));
  job.note = use.Bytes(17);
  job.cached_from = use.Bytes(18);
  job.rows = use.Int(19);
  return job;
}

// BEGIN IMMEDIATE ... COMMIT, rolled back when left by an exception. IMMEDIATE takes the write lock up front, so a
// transaction never fails half-way on a lock upgrade.
class Transaction {
 public:
  Transaction(Statement* begin, Statement* commit, Statement* rollback) : commit_(commit), rollback_(rollback) {
    Statement::Use(begin).Run();
  }
  ~Transaction() {
    if (committed_) return;
    try {
      Statement::Use(rollback_).Run();
    } catch (const Error&) {
      // The exception being propagated says what went wrong; SQLite has rolled back by itself when this fails.
    }
  }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  void Commit() {
    Statement::Use(commit_).Run();
    committed_ = true;
  }

 private:
  Statement* commit_;
  Statement* rollback_;
  bool committed_ = false;
};

}  // namespace

struct JobStore::Statements {
  Statements(sqlite3* db, const std::string& path)
      : begin(db, path, "BEGIN IMMEDIATE"),
        commit(db, path, "COMMIT"),
        rollback(db, path, "ROLLBACK"),
        insert(db, path,
               "INSERT INTO jobs (id, owner, state, created_ms, finished_ms, request, content_key, steps_total,"
               " steps_done, note, cached_from, row_count) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"),
        get(db, path, "SELECT " LS_JOB_COLUMNS " FROM jobs WHERE id = ?1"),
        list_all(db, path, "SELECT " LS_JOB_COLUMNS " FROM jobs ORDER BY seq"),
        list_owner(db, path, "SELECT " LS_JOB_COLUMNS " FROM jobs WHERE owner = ?1 ORDER BY seq"),
        list_state(db, path, "SELECT " LS_JOB_COLUMNS " FROM jobs WHERE state = ?1 ORDER BY seq"),
        find_cached(db, path,
                    "SELECT " LS_JOB_COLUMNS
                    " FROM jobs WHERE content_key = ?1 AND state = 'succeeded' AND cached_from = ''"
                    " ORDER BY seq DESC LIMIT 1"),
        mark_running(db, path,
                     "UPDATE jobs SET state = 'running', started_ms = CASE WHEN started_ms = 0 THEN ?2"
                     " ELSE started_ms END WHERE id = ?1 AND state = 'queued'"),
        insert_row(db, path, "INSERT INTO result_rows (job_id, seq, data) VALUES (?1, ?2, ?3)"),
        count_row(db, path, "UPDATE jobs SET row_count = row_count + 1 WHERE id = ?1"),
        copy_rows(db, path,
                  "INSERT INTO result_rows (job_id, seq, data) SELECT ?1, seq, data FROM result_rows"
                  " WHERE job_id = ?2"),
        read_rows(db, path, "SELECT seq, data FROM result_rows WHERE job_id = ?1 AND seq >= ?2 ORDER BY seq LIMIT ?3"),
        checkpoint(db, path,
                   "UPDATE jobs SET ckpt_mode = ?2, ckpt_batch = ?3, ckpt_rows = row_count"
                   " WHERE id = ?1 AND state = 'running'"),
        progress(db, path, "UPDATE jobs SET steps_done = ?2, steps_total = ?3 WHERE id = ?1 AND state = 'running'"),
        finish(db, path,
               "UPDATE jobs SET state = ?2, finished_ms = ?3, error = ?4, error_code = ?5"
               " WHERE id = ?1 AND state IN ('queued', 'running')"),
        drop_rows(db, path, "DELETE FROM result_rows WHERE job_id = ?1 AND seq >= ?2"),
        requeue(db, path,
                "UPDATE jobs SET state = 'queued', row_count = ?2, resume = ?3, interruptions = interruptions + ?5,"
                " note = ?4, steps_done = CASE WHEN ?2 = 0 THEN 0 ELSE steps_done END"
                " WHERE id = ?1 AND state = 'running'") {}

  // A write transaction on this connection; the caller holds mu_.
  Transaction Begin() { return Transaction(&begin, &commit, &rollback); }

  Statement begin, commit, rollback, insert, get, list_all, list_owner, list_state, find_cached, mark_running,
      insert_row, count_row, copy_rows, read_rows, checkpoint, progress, finish, drop_rows, requeue;
};

std::unique_ptr<JobStore> JobStore::Open(const std::string& path, const JobStoreOptions& options,
                                         RecoveryReport* report) {
  const std::string lock_path = path + ".lock";
  const int lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd < 0) {
    throw Error(ErrorKind::kFailedPrecondition, "job store: cannot open " + lock_path + ": " + std::strerror(errno));
  }
  if (::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    ::close(lock_fd);
    throw Error(ErrorKind::kFailedPrecondition, "job store " + path + " is in use by another process (lock " +
                                                    lock_path + ": " + std::strerror(err) +
                                                    "); one layerscoped per data directory");
  }
  sqlite3* db = nullptr;
  const int rc =
      sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    const std::string message = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close(db);
    ::close(lock_fd);
    throw Error(ErrorKind::kFailedPrecondition, "job store: cannot open " + path + ": " + message);
  }
  // From here the destructor closes db and lock_fd.
  std::unique_ptr<JobStore> store(new JobStore(db, lock_fd, path, options));
  sqlite3_busy_timeout(db, options.busy_timeout_ms);
  sqlite3_extended_result_codes(db, 1);
  store->Exec("PRAGMA journal_mode = WAL");
  store->Exec("PRAGMA synchronous = FULL");
  if (options.max_bytes > 0) {
    // page_size is 4096 unless the file says otherwise; read it rather than assume.
    Statement page_size_query(db, store->path_, "PRAGMA page_size");
    Statement::Use use(&page_size_query);
    const int64_t page_size = use.Step() ? std::max<int64_t>(512, use.Int(0)) : 4096;
    const int64_t pages = std::max<int64_t>(1, options.max_bytes / page_size);
    store->Exec(("PRAGMA max_page_count = " + std::to_string(pages)).c_str());
  }
  store->CreateOrCheckSchema();
  store->Prepare();
  store->Recover(report);
  return store;
}

JobStore::JobStore(sqlite3* db, int lock_fd, std::string path, const JobStoreOptions& options)
    : db_(db), lock_fd_(lock_fd), path_(std::move(path)), options_(options) {}

JobStore::~JobStore() {
  statements_.reset();  // finalized before the close, or the close fails
  sqlite3_close(db_);
  ::close(lock_fd_);
}

void JobStore::Exec(const char* sql) {
  char* error = nullptr;
  const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &error);
  sqlite3_free(error);
  if (rc != SQLITE_OK) FailSqlite(db_, path_, std::string("running \"") + sql + "\"", rc);
}

void JobStore::CreateOrCheckSchema() {
  Statement has_version(db_, path_,
                        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'");
  Statement tables(db_, path_, "SELECT count(*) FROM sqlite_master");
  Exec("BEGIN IMMEDIATE");
  try {
    bool exists = false;
    {
      Statement::Use use(&has_version);
      use.Step();
      exists = use.Int(0) > 0;
    }
    if (!exists) {
      Statement::Use use(&tables);
      use.Step();
      if (use.Int(0) > 0) {
        throw Error(ErrorKind::kDataLoss, "job store " + path_ + " is an SQLite file but not a layerscope job store");
      }
      for (const char* sql : kSchema) Exec(sql);
      Exec(("INSERT INTO schema_version (version) VALUES (" + std::to_string(kSchemaVersion) + ")").c_str());
    } else {
      Statement version(db_, path_, "SELECT version FROM schema_version");
      Statement::Use use(&version);
      const int64_t found = use.Step() ? use.Int(0) : -1;
      if (found != kSchemaVersion) {
        throw Error(ErrorKind::kDataLoss, "job store " + path_ + " has schema version " + std::to_string(found) +
                                              ", this layerscoped reads version " + std::to_string(kSchemaVersion));
      }
    }
    Exec("COMMIT");
  } catch (...) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

void JobStore::Prepare() { statements_ = std::make_unique<Statements>(db_, path_); }

namespace {

[[noreturn]] void WrongState(const Job& job, const std::string& action, const char* expected) {
  throw Error(ErrorKind::kFailedPrecondition,
              "job " + job.id + ": cannot " + action + ": it is " + JobStateName(job.state) + ", not " + expected);
}

}  // namespace

std::optional<Job> JobStore::GetLocked(const std::string& id) {
  Statement::Use use(&statements_->get);
  use.Bind(1, id);
  if (!use.Step()) return std::nullopt;
  return ReadJob(use);
}

Job JobStore::GetExistingLocked(const std::string& id) {
  std::optional<Job> job = GetLocked(id);
  if (!job) throw Error(ErrorKind::kNotFound, "job " + id + " does not exist");
  return *job;
}

std::string JobStore::InsertLocked(const NewJob& job, JobState state, const std::string& note,
                                   const std::string& cached_from, int64_t steps_done, int64_t rows) {
  const std::string id = NewJobId();
  const int64_t now = NowMs();
  Statement::Use use(&statements_->insert);
  use.Bind(1, id)
      .Bind(2, job.owner)
      .Bind(3, std::string(JobStateName(state)))
      .Bind(4, now)
      .Bind(5, IsFinal(state) ? now : int64_t{0})
      .BindBlob(6, job.request)
      .Bind(7, job.content_key)
      .Bind(8, job.steps_total)
      .Bind(9, steps_done)
      .Bind(10, note)
      .Bind(11, cached_from)
      .Bind(12, rows);
  use.Run();
  return id;
}

Job JobStore::Create(const NewJob& job) {
  std::lock_guard<std::mutex> lock(mu_);
  Transaction txn = statements_->Begin();
  const std::string id = InsertLocked(job, JobState::kQueued, "", "", 0, 0);
  Job created = GetExistingLocked(id);
  txn.Commit();
  return created;
}

Job JobStore::CreateFromCache(const NewJob& job, const std::string& source_id) {
  std::lock_guard<std::mutex> lock(mu_);
  Transaction txn = statements_->Begin();
  const Job source = GetExistingLocked(source_id);
  if (source.state != JobState::kSucceeded) WrongState(source, "answer from its cache", "succeeded");
  const std::string id = InsertLocked(job, JobState::kSucceeded, "answered from the cached result of job " + source_id,
                                      source_id, source.steps_total, source.rows);
  Statement::Use(&statements_->copy_rows).Bind(1, id).Bind(2, source_id).Run();
  Job created = GetExistingLocked(id);
  txn.Commit();
  return created;
}

Job JobStore::MarkRunning(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  Transaction txn = statements_->Begin();
  if (Statement::Use(&statements_->mark_running).Bind(1, id).Bind(2, NowMs()).Run() == 0) {
    WrongState(GetExistingLocked(id), "start", "queued");
  }
  Job job = GetExistingLocked(id);
  txn.Commit();
  return job;
}

int64_t JobStore::AppendRow(const std::string& id, const std::string& data) {
  std::lock_guard<std::mutex> lock(mu_);
  Transaction txn = statements_->Begin();
  const Job job = GetExistingLocked(id);
  if (job.state != JobState::kRunning) WrongState(job, "append a result row", "running");
  Statement::Use(&statements_->insert_row).Bind(1, id).Bind(2, job.rows).BindBlob(3, data).Run();
  Statement::Use(&statements_->count_row).Bind(1, id).Run();
  txn.Commit();
  return job.rows;
}

void JobStore::SaveCheckpoint(const std::string& id, int mode_index, int64_t batch) {
  std::lock_guard<std::mutex> lock(mu_);
  Transaction txn = statements_->Begin();
  if (Statement::Use(&statements_->checkpoint).Bind(1, id).Bind(2, int64_t{mode_index}).Bind(3, batch).Run() == 0) {
    WrongState(GetExistingLocked(id), "record a checkpoint", "running");
  }
  txn.Commit();
}

void JobStore::SetProgress(const std::string& id, int64_t done, int64_t total) {
  std::lock_guard<std::mutex> lock(mu_);
  Transaction txn = statements_->Begin();
  if (Statement::Use(&statements_->progress).Bind(1, id).Bind(2, done).Bind(3, total).Run() == 0) {
    WrongState(GetExistingLocked(id), "record progress", "running");
  }
  txn.Commit();
}

void JobStore::Finish(const std::string& id, JobState state, const std::string& error, const std::string& error_code) {
  if (!IsFinal(state)) {
    throw Error(ErrorKind::kInvalidArgument,
                "job " + id + ": Finish needs a final state, not " + std::string(JobStateName(state)));
  }
  std::lock_guard<std::mutex> lock(mu_);
  Transaction txn = statements_->Begin();
  Statement::Use use(&statements_->finish);
  use.Bind(1, id).Bind(2, std::string(JobStateName(state))).Bind(3, NowMs()).Bind(4, error).Bind(5, error_code);
  if (use.Run() == 0)
    WrongState(GetExistingLocked(id), std::string("make it ") + JobStateName(state), "queued or running");
  txn.Commit();
}

ResumeKind JobStore::RequeueLocked(const Job& job, const std::string& why, bool crashed, bool* failed) {
  if (job.state != JobState::kRunning) WrongState(job, "requeue", "running");
  *failed = crashed && job.interruptions + 1 > options_.max_interruptions;
  if (*failed) {
    const std::string error = why + "; the server stopped " + std::to_string(job.interruptions + 1) +
                              " times while this job was running (limit " + std::to_string(options_.max_interruptions) +
                              "), so it is not run again";
    Statement::Use(&statements_->finish)
        .Bind(1, job.id)
        .Bind(2, std::string(JobStateName(JobState::kFailed)))
        .Bind(3, NowMs())
        .Bind(4, error)
        .Bind(5, std::string("ABORTED"))
        .Run();
    return job.resume;
  }
  const ResumeKind kind = job.checkpoint.valid ? ResumeKind::kResumed : ResumeKind::kRestarted;
  const int64_t keep = job.checkpoint.valid ? job.checkpoint.rows : 0;
  const std::string note =
      why + (kind == ResumeKind::kResumed ? "; resumes after mode " + std::to_string(job.checkpoint.mode_index) +
                                                " batch " + std::to_string(job.checkpoint.batch)
                                          : std::string("; restarts from the beginning (no finished step)"));
  Statement::Use(&statements_->drop_rows).Bind(1, job.id).Bind(2, keep).Run();
  Statement::Use(&statements_->requeue)
      .Bind(1, job.id)
      .Bind(2, keep)
      .Bind(3, std::string(ResumeKindName(kind)))
      .Bind(4, note)
      .Bind(5, int64_t{crashed ? 1 : 0})
      .Run();
  return kind;
}

ResumeKind JobStore::Requeue(const std::string& id, const std::string& why) {
  std::lock_guard<std::mutex> lock(mu_);
  Transaction txn = statements_->Begin();
  bool failed = false;
  const ResumeKind kind = RequeueLocked(GetExistingLocked(id), why, /*crashed=*/false, &failed);
  txn.Commit();
  return kind;
}

void JobStore::Recover(RecoveryReport* report) {
  std::lock_guard<std::mutex> lock(mu_);
  Transaction txn = statements_->Begin();
  std::vector<Job> running;
  {
    Statement::Use use(&statements_->list_state);
    use.Bind(1, std::string(JobStateName(JobState::kRunning)));
    while (use.Step()) running.push_back(ReadJob(use));
  }
  for (const Job& job : running) {
    bool failed = false;
    const ResumeKind kind =
        RequeueLocked(job, "the server stopped while this job was running", /*crashed=*/true, &failed);
    if (report == nullptr) continue;
    if (failed) {
      report->failed.push_back(job.id);
    } else {
      (kind == ResumeKind::kResumed ? report->resumed : report->restarted).push_back(job.id);
    }
  }
  txn.Commit();
}

std::optional<Job> JobStore::Get(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  return GetLocked(id);
}

std::vector<Job> JobStore::List(const std::string& owner) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Job> jobs;
  Statement::Use use(owner.empty() ? &statements_->list_all : &statements_->list_owner);
  if (!owner.empty()) use.Bind(1, owner);
  while (use.Step()) jobs.push_back(ReadJob(use));
  return jobs;
}

std::vector<Job> JobStore::Queued() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Job> jobs;
  Statement::Use use(&statements_->list_state);
  use.Bind(1, std::string(JobStateName(JobState::kQueued)));
  while (use.Step()) jobs.push_back(ReadJob(use));
  return jobs;
}

std::vector<ResultRow> JobStore::ReadRows(const std::string& id, int64_t from_seq, int64_t limit) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<ResultRow> rows;
  Statement::Use use(&statements_->read_rows);
  use.Bind(1, id).Bind(2, from_seq).Bind(3, limit);
  while (use.Step()) rows.push_back(ResultRow{use.Int(0), use.Bytes(1)});
  return rows;
}

std::optional<Job> JobStore::FindCached(const std::string& content_key) {
  if (content_key.empty()) return std::nullopt;
  std::lock_guard<std::mutex> lock(mu_);
  Statement::Use use(&statements_->find_cached);
  use.Bind(1, content_key);
  if (!use.Step()) return std::nullopt;
  return ReadJob(use);
}

}  // namespace layerscope::jobs
