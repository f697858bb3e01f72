// What every fuzz target shares: a file that holds the input (the readers under test take paths) and the rule for
// what a reader may do with bad bytes.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/util/error.h"

namespace layerscope::fuzz {

// An anonymous in-memory file (memfd), reachable by path as /proc/self/fd/N: no disk writes per run, and a
// regular file as InputFile requires.
class MemoryFile {
 public:
  MemoryFile() : fd_(memfd_create("fuzz-input", MFD_CLOEXEC)) {
    if (fd_ < 0) std::abort();
  }
  ~MemoryFile() { close(fd_); }
  MemoryFile(const MemoryFile&) = delete;
  MemoryFile& operator=(const MemoryFile&) = delete;

  // Replaces the file's content; returns its path.
  std::string Hold(const uint8_t* data, size_t size) {
    if (ftruncate(fd_, 0) != 0) std::abort();
    size_t written = 0;
    while (written < size) {
      const ssize_t n = pwrite(fd_, data + written, size - written, static_cast<off_t>(written));
      if (n <= 0) std::abort();
      written += static_cast<size_t>(n);
    }
    return "/proc/self/fd/" + std::to_string(fd_);
  }

 private:
  int fd_;
};

// Bad input must end in a layerscope::Error that says what is wrong (the service turns it into a status). An
// Error(kInternal) means a bug was reached, and any other exception escapes the harness: libFuzzer reports both.
inline void ExpectCleanRefusal(const Error& error) {
  if (error.kind() == ErrorKind::kInternal) {
    std::fprintf(stderr, "internal error on fuzz input: %s\n", error.what());
    std::abort();
  }
}

}  // namespace layerscope::fuzz
