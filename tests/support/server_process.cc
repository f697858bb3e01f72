#include "tests/support/server_process.h"

#include <fcntl.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/wire_format_lite.h>
#include <grpcpp/generic/generic_stub.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace layerscope {
namespace {

constexpr char kListeningPrefix[] = "layerscoped listening on ";
constexpr auto kPollInterval = std::chrono::milliseconds(20);

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string MakeTempDir() {
  const char* tmp = getenv("TMPDIR");
  std::string pattern = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/layerscoped-test-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) {
    throw std::runtime_error("mkdtemp " + pattern + ": " + std::strerror(errno));
  }
  return pattern;
}

// The health messages have one field each (request: string service = 1; response: enum status = 1), so they are
// encoded here rather than generated from grpc's health.proto, which Debian does not install.
grpc::ByteBuffer EncodeHealthRequest(const std::string& service) {
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream out(&stream);
    if (!service.empty()) {
      out.WriteTag(/*field 1, length-delimited*/ (1 << 3) | 2);
      out.WriteVarint32(static_cast<uint32_t>(service.size()));
      out.WriteString(service);
    }
  }
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

bool DecodeHealthResponse(const grpc::ByteBuffer& buffer, HealthStatus* status) {
  std::vector<grpc::Slice> slices;
  if (!buffer.Dump(&slices).ok()) return false;
  std::string bytes;
  for (const auto& slice : slices) bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(bytes.data()),
                                            static_cast<int>(bytes.size()));
  *status = HealthStatus::kUnknown;  // proto3: an absent field is the zero value
  while (const uint32_t tag = in.ReadTag()) {
    if (tag == ((1 << 3) | 0)) {
      uint32_t value = 0;
      if (!in.ReadVarint32(&value)) return false;
      *status = static_cast<HealthStatus>(value);
    } else if (!google::protobuf::internal::WireFormatLite::SkipField(&in, tag)) {
      return false;
    }
  }
  return true;
}

}  // namespace

grpc::Status CheckHealth(const std::shared_ptr<grpc::Channel>& channel, const std::string& service,
                         HealthStatus* status, std::chrono::milliseconds deadline) {
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + deadline);
  grpc::CompletionQueue queue;
  auto call = stub.PrepareUnaryCall(&context, "/grpc.health.v1.Health/Check", EncodeHealthRequest(service), &queue);
  call->StartCall();
  grpc::ByteBuffer response;
  grpc::Status result;
  call->Finish(&response, &result, /*tag=*/nullptr);
  void* tag = nullptr;
  bool ok = false;
  queue.Next(&tag, &ok);
  queue.Shutdown();
  while (queue.Next(&tag, &ok)) {
  }
  if (result.ok() && !DecodeHealthResponse(response, status)) {
    return grpc::Status(grpc::StatusCode::INTERNAL, "undecodable grpc.health.v1.HealthCheckResponse");
  }
  return result;
}

std::string ServerProcess::BinaryPath() { return LAYERSCOPED_BINARY; }

ServerProcess::ServerProcess(const std::vector<std::string>& extra_args) : ServerProcess(extra_args, true) {}

std::unique_ptr<ServerProcess> ServerProcess::StartWithoutWaiting(const std::vector<std::string>& extra_args) {
  return std::unique_ptr<ServerProcess>(new ServerProcess(extra_args, false));
}

std::unique_ptr<ServerProcess> ServerProcess::StartOnDataDir(const std::string& data_dir,
                                                             const std::vector<std::string>& extra_args) {
  return std::unique_ptr<ServerProcess>(new ServerProcess(extra_args, true, data_dir));
}

ServerProcess::ServerProcess(const std::vector<std::string>& extra_args, bool wait_for_serving,
                             const std::string& data_dir) {
  dir_ = MakeTempDir();
  data_dir_ = data_dir.empty() ? dir_ + "/data" : data_dir;
  std::vector<std::string> args = {BinaryPath(), "--listen", "127.0.0.1:0", "--data-dir", data_dir_};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  std::vector<char*> argv;
  for (auto& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);

  // Both streams go to files: a pipe nobody drains could block the server once its log outgrows the pipe buffer.
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, (dir_ + "/stdout.txt").c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, (dir_ + "/stderr.txt").c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  const int rc = posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    pid_ = -1;
    std::filesystem::remove_all(dir_);
    throw std::runtime_error("cannot start " + BinaryPath() + ": " + std::strerror(rc));
  }
  try {
    WaitForListening(std::chrono::seconds(120));
    if (wait_for_serving) WaitForServing(std::chrono::seconds(120));
  } catch (...) {
    Stop(std::chrono::seconds(5));
    std::filesystem::remove_all(dir_);
    throw;
  }
}

ServerProcess::~ServerProcess() {
  Stop();
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

std::shared_ptr<grpc::Channel> ServerProcess::NewChannel() const {
  return grpc::CreateChannel(address_, grpc::InsecureChannelCredentials());
}

std::string ServerProcess::Stderr() const { return ReadFile(dir_ + "/stderr.txt"); }

void ServerProcess::WaitForListening(std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    const std::string out = ReadFile(dir_ + "/stdout.txt");
    const size_t at = out.find(kListeningPrefix);
    const size_t end = at == std::string::npos ? at : out.find('\n', at);
    if (end != std::string::npos) {
      address_ = out.substr(at + std::strlen(kListeningPrefix), end - at - std::strlen(kListeningPrefix));
      return;
    }
    if (Exited()) Fail("exited before listening");
    std::this_thread::sleep_for(kPollInterval);
  }
  Fail("printed no \"" + std::string(kListeningPrefix) + "HOST:PORT\" line within " + std::to_string(timeout.count()) +
       " s");
}

void ServerProcess::WaitForServing(std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  const auto channel = NewChannel();
  HealthStatus health = HealthStatus::kUnknown;
  while (std::chrono::steady_clock::now() < deadline) {
    if (CheckHealth(channel, "", &health, std::chrono::seconds(2)).ok() && health == HealthStatus::kServing) return;
    if (Exited()) Fail("exited before serving");
    std::this_thread::sleep_for(kPollInterval);
  }
  Fail("did not report health SERVING within " + std::to_string(timeout.count()) + " s");
}

bool ServerProcess::Exited() {
  if (reaped_) return true;
  int status = 0;
  if (waitpid(pid_, &status, WNOHANG) != pid_) return false;
  reaped_ = true;
  exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
  return true;
}

void ServerProcess::Fail(const std::string& what) {
  throw std::runtime_error(BinaryPath() + " " + what + "; its stderr:\n" + Stderr());
}

std::optional<int> ServerProcess::WaitForExit(std::chrono::milliseconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (!Exited()) {
    if (std::chrono::steady_clock::now() >= until) return std::nullopt;
    std::this_thread::sleep_for(kPollInterval);
  }
  return exit_status_;
}

int ServerProcess::Stop(std::chrono::milliseconds deadline) {
  if (pid_ <= 0) return exit_status_;
  if (!Exited()) {
    kill(pid_, SIGTERM);
    const auto until = std::chrono::steady_clock::now() + deadline;
    while (!Exited() && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(kPollInterval);
    if (!Exited()) {
      kill(pid_, SIGKILL);
      int status = 0;
      waitpid(pid_, &status, 0);
      reaped_ = true;
      exit_status_ = -SIGKILL;
    }
  }
  return exit_status_;
}

}  // namespace layerscope
