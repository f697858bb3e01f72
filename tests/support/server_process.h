// ServerProcess: the real `layerscoped` binary, started on an ephemeral loopback port with a fresh data folder, for
// end-to-end tests. The constructor returns once the server has bound its port and reports health SERVING (its
// model is loaded); the destructor stops it (SIGTERM, then SIGKILL) and removes its folder.
#pragma once

#include <grpcpp/grpcpp.h>
#include <sys/types.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace layerscope {

// The standard gRPC health service's answer (grpc.health.v1.HealthCheckResponse.ServingStatus).
enum class HealthStatus { kUnknown = 0, kServing = 1, kNotServing = 2, kServiceUnknown = 3 };

// Asks `channel`'s grpc.health.v1.Health/Check about `service` ("" = the whole server). Returns the call's status;
// *status is set when it is OK.
grpc::Status CheckHealth(const std::shared_ptr<grpc::Channel>& channel, const std::string& service,
                         HealthStatus* status, std::chrono::milliseconds deadline = std::chrono::seconds(5));

class ServerProcess {
 public:
  // Starts layerscoped with `--listen 127.0.0.1:0 --data-dir <fresh folder>` followed by `extra_args`. Throws
  // std::runtime_error, quoting the server's stderr, when it exits, or has not bound its port within 120 s, or has
  // not reported SERVING within 120 s after that.
  explicit ServerProcess(const std::vector<std::string>& extra_args = {});
  // Starts it but returns as soon as the port is bound (health may still be NOT_SERVING while the model loads).
  static std::unique_ptr<ServerProcess> StartWithoutWaiting(const std::vector<std::string>& extra_args = {});
  // Starts it on an existing --data-dir (which it leaves in place), e.g. another server's after that one stopped,
  // and waits for SERVING as the constructor does.
  static std::unique_ptr<ServerProcess> StartOnDataDir(const std::string& data_dir,
                                                       const std::vector<std::string>& extra_args = {});
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  // "127.0.0.1:PORT", the address the server printed.
  const std::string& address() const { return address_; }
  // The folder passed as --data-dir.
  const std::string& data_dir() const { return data_dir_; }
  pid_t pid() const { return pid_; }
  // A new channel to address().
  std::shared_ptr<grpc::Channel> NewChannel() const;
  // Everything the server has written to stderr so far (its log).
  std::string Stderr() const;

  // Waits up to `timeout` for the server to exit by itself. Returns its exit code (or -N when ended by signal N),
  // or nothing when it is still running.
  std::optional<int> WaitForExit(std::chrono::milliseconds timeout);

  // Sends SIGTERM and waits up to `deadline` for the exit (SIGKILL after it). Returns the exit code, or -N when
  // it was ended by signal N. Later calls return the same value.
  int Stop(std::chrono::milliseconds deadline = std::chrono::seconds(20));

  // The binary under test.
  static std::string BinaryPath();

 private:
  ServerProcess(const std::vector<std::string>& extra_args, bool wait_for_serving, const std::string& data_dir = "");
  void WaitForListening(std::chrono::seconds timeout);
  void WaitForServing(std::chrono::seconds timeout);
  // Whether the child has exited (reaps it and records the exit status).
  bool Exited();
  [[noreturn]] void Fail(const std::string& what);

  std::string dir_;  // holds data/, stdout.txt and stderr.txt
  std::string data_dir_;
  std::string address_;
  pid_t pid_ = -1;
  bool reaped_ = false;
  int exit_status_ = 0;
};

}  // namespace layerscope
