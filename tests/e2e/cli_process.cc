#include "tests/e2e/cli_process.h"

#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

extern char** environ;

namespace layerscope::e2e {
namespace {

void CloseFd(int* fd) {
  if (*fd >= 0) close(*fd);
  *fd = -1;
}

// Appends what `fd` has to `sink`; closes it at end of file, or on EIO (a pseudo-terminal whose child side is
// closed).
void Drain(int* fd, std::string* sink) {
  char buffer[65536];
  const ssize_t n = read(*fd, buffer, sizeof(buffer));
  if (n > 0) {
    sink->append(buffer, static_cast<size_t>(n));
  } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
    CloseFd(fd);
  }
}

}  // namespace

std::string CliProcess::BinaryPath() { return LAYERSCOPE_CLIENT_BINARY; }

CliProcess::CliProcess(const std::vector<std::string>& args, const Options& options) {
  int out_pipe[2];
  if (pipe(out_pipe) != 0) throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  int err_parent = -1, err_child = -1;
  if (options.stderr_is_terminal) {
    // Raw mode: the terminal passes bytes through unchanged (no "\n" -> "\r\n"), so stderr reads as written.
    termios raw{};
    cfmakeraw(&raw);
    if (openpty(&err_parent, &err_child, nullptr, &raw, nullptr) != 0) {
      throw std::runtime_error(std::string("openpty: ") + std::strerror(errno));
    }
  } else {
    int err_pipe[2];
    if (pipe(err_pipe) != 0) throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
    err_parent = err_pipe[0];
    err_child = err_pipe[1];
  }

  // Everything the child needs is prepared before fork(): only async-signal-safe calls may follow it.
  std::vector<std::string> argv_strings = args;
  argv_strings.insert(argv_strings.begin(), BinaryPath());
  std::vector<char*> argv;
  for (std::string& arg : argv_strings) argv.push_back(arg.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::strncmp(*e, "LAYERSCOPE_SERVER=", 18) != 0) env_strings.emplace_back(*e);
  }
  env_strings.insert(env_strings.end(), options.env.begin(), options.env.end());
  std::vector<char*> envp;
  for (std::string& entry : env_strings) envp.push_back(entry.data());
  envp.push_back(nullptr);

  start_ = std::chrono::steady_clock::now();
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (pid_ == 0) {
    const int null_fd = open("/dev/null", O_RDONLY);
    dup2(null_fd, STDIN_FILENO);
    dup2(out_pipe[1], STDOUT_FILENO);
    dup2(err_child, STDERR_FILENO);
    execve(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  close(out_pipe[1]);
  close(err_child);
  out_fd_ = out_pipe[0];
  err_fd_ = err_parent;
}

CliProcess::~CliProcess() {
  if (pid_ > 0 && !reaped_) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  CloseFd(&out_fd_);
  CloseFd(&err_fd_);
}

bool CliProcess::Pump(std::chrono::milliseconds wait) {
  pollfd fds[2];
  nfds_t n = 0;
  if (out_fd_ >= 0) fds[n++] = {out_fd_, POLLIN, 0};
  if (err_fd_ >= 0) fds[n++] = {err_fd_, POLLIN, 0};
  if (n == 0) return false;
  if (poll(fds, n, static_cast<int>(wait.count())) <= 0) return true;
  for (nfds_t i = 0; i < n; ++i) {
    if (fds[i].revents == 0) continue;
    if (fds[i].fd == out_fd_) {
      Drain(&out_fd_, &result_.out);
    } else {
      Drain(&err_fd_, &result_.err);
    }
  }
  return true;
}

bool CliProcess::WaitForStderr(const std::string& text, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (result_.err.find(text) == std::string::npos) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || !Pump(std::min(left, std::chrono::milliseconds(100)))) return false;
  }
  return true;
}

void CliProcess::Kill(int signal) { kill(pid_, signal); }

CliResult CliProcess::Wait(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  // Output is read until the child closes it by exiting, so a child blocked on a full pipe still finishes.
  bool killed = false;
  while (Pump(std::chrono::milliseconds(100))) {
    if (!killed && std::chrono::steady_clock::now() >= deadline) {
      result_.timed_out = true;
      kill(pid_, SIGKILL);
      killed = true;
    }
  }
  int status = 0;
  waitpid(pid_, &status, 0);
  reaped_ = true;
  result_.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
  result_.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start_);
  return result_;
}

CliResult RunCli(const std::vector<std::string>& args, std::chrono::milliseconds timeout) {
  CliProcess process(args, CliProcess::Options());
  return process.Wait(timeout);
}

}  // namespace layerscope::e2e
