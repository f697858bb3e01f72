// CliProcess: the real `layerscope` binary run as a child process, as a user's shell would run it: arguments,
// stdout and stderr captured, exit code or signal. Stderr is a pipe (not a terminal) unless asked to be a
// pseudo-terminal, which is how the tests see the progress bar. The child never inherits LAYERSCOPE_SERVER from the
// test's environment; tests pass --server.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace layerscope::e2e {

struct CliResult {
  int exit_code = -1;  // the exit status, or -N when ended by signal N
  bool timed_out = false;
  std::string out;
  std::string err;
  std::chrono::milliseconds elapsed{0};
};

class CliProcess {
 public:
  struct Options {
    bool stderr_is_terminal = false;
    std::vector<std::string> env;  // extra NAME=VALUE entries
  };

  // Starts `layerscope ARGS...`. Throws std::runtime_error when it cannot.
  CliProcess(const std::vector<std::string>& args, const Options& options);
  ~CliProcess();
  CliProcess(const CliProcess&) = delete;
  CliProcess& operator=(const CliProcess&) = delete;

  // Collects output until stderr contains `text`; false when the process ends or `timeout` passes first.
  bool WaitForStderr(const std::string& text, std::chrono::milliseconds timeout);
  void Kill(int signal);
  // Collects output until the process exits; kills it (SIGKILL) and sets timed_out after `timeout`.
  CliResult Wait(std::chrono::milliseconds timeout);

  // The binary under test.
  static std::string BinaryPath();

 private:
  // Reads what is available on the child's stdout and stderr, waiting at most `wait`. False once both are closed.
  bool Pump(std::chrono::milliseconds wait);

  pid_t pid_ = -1;
  bool reaped_ = false;
  int out_fd_ = -1;
  int err_fd_ = -1;
  CliResult result_;
  std::chrono::steady_clock::time_point start_;
};

// Runs `layerscope ARGS...` to the end (at most `timeout`).
CliResult RunCli(const std::vector<std::string>& args, std::chrono::milliseconds timeout = std::chrono::seconds(60));

}  // namespace layerscope::e2e
