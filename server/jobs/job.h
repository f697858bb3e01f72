// Job: one comparison submitted to the server, as the job store keeps it. The request travels as an opaque blob (the
// service's serialized proto) so that this library needs neither gRPC nor protobuf; the content key is a hex digest
// of what determines the result (model, mode specs, data, sizes), under which a finished job answers a repeat.
#pragma once

#include <cstdint>
#include <string>

namespace layerscope::jobs {

enum class JobState { kQueued, kRunning, kSucceeded, kFailed, kCancelled };

// "queued", "running", ... as stored and logged.
const char* JobStateName(JobState state);

// Succeeded, failed and cancelled are final: no transition leaves them.
inline bool IsFinal(JobState state) { return state != JobState::kQueued && state != JobState::kRunning; }

// How the job's latest run began after the server stopped while it was running (a crash or a shutdown).
enum class ResumeKind {
  kNone,       // never interrupted
  kResumed,    // continues after its last finished (mode, batch)
  kRestarted,  // had no finished step recorded: runs again from the beginning
};

const char* ResumeKindName(ResumeKind kind);

// The last step a runner declared finished. Rows up to `rows` (exclusive) were written by then; rows past it belong
// to a step that did not finish and are dropped when the job goes back to the queue, since the step emits them
// again.
struct Checkpoint {
  bool valid = false;
  int mode_index = -1;
  int64_t batch = -1;
  int64_t rows = 0;
};

struct Job {
  std::string id;  // 32 hex digits, random
  std::string owner;
  JobState state = JobState::kQueued;
  // Milliseconds since the Unix epoch; 0 until it happens.
  int64_t created_ms = 0;
  int64_t started_ms = 0;
  int64_t finished_ms = 0;
  std::string request;      // opaque serialized request
  std::string content_key;  // hex digest for the result cache; empty: not cacheable
  int64_t steps_done = 0;
  int64_t steps_total = 0;
  // Set when failed (or cancelled with a reason): what went wrong, for the caller.
  std::string error;
  // The service's classification of the failure (e.g. "RESOURCE_EXHAUSTED"), opaque here; empty when none.
  std::string error_code;
  Checkpoint checkpoint;
  ResumeKind resume = ResumeKind::kNone;
  int interruptions = 0;    // times the server died (crash, kill -9) while this job was running
  std::string note;         // why it was requeued, or which job's cached result answered it
  std::string cached_from;  // the job whose result this one copied; empty when it ran
  int64_t rows = 0;         // result rows stored
};

// One result row: `seq` counts from 0 in the order the runner emitted them.
struct ResultRow {
  int64_t seq = 0;
  std::string data;
};

// 128 random bits as 32 lowercase hex digits, from the kernel's CSPRNG (getrandom). Unguessable, so that knowing a
// job id grants nothing by itself (ownership is still checked).
std::string NewJobId();

}  // namespace layerscope::jobs
