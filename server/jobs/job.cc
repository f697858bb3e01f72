#include "server/jobs/job.h"

#include <sys/random.h>

#include <cerrno>
#include <cstring>

#include "core/util/error.h"

namespace layerscope::jobs {

const char* JobStateName(JobState state) {
  switch (state) {
    case JobState::kQueued: return "queued";
    case JobState::kRunning: return "running";
    case JobState::kSucceeded: return "succeeded";
    case JobState::kFailed: return "failed";
    case JobState::kCancelled: return "cancelled";
  }
  return "unknown";
}

const char* ResumeKindName(ResumeKind kind) {
  switch (kind) {
    case ResumeKind::kNone: return "none";
    case ResumeKind::kResumed: return "resumed";
    case ResumeKind::kRestarted: return "restarted";
  }
  return "unknown";
}

std::string NewJobId() {
  unsigned char bytes[16];
  size_t filled = 0;
  while (filled < sizeof(bytes)) {
    const ssize_t n = getrandom(bytes + filled, sizeof(bytes) - filled, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw Error(ErrorKind::kInternal, std::string("job id: getrandom failed: ") + std::strerror(errno));
    }
    filled += static_cast<size_t>(n);
  }
  static const char kHex[] = "0123456789abcdef";
  std::string id(32, '0');
  for (size_t i = 0; i < sizeof(bytes); ++i) {
    id[2 * i] = kHex[bytes[i] >> 4];
    id[2 * i + 1] = kHex[bytes[i] & 0xf];
  }
  return id;
}

}  // namespace layerscope::jobs
