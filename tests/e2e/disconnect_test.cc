// The client and server when the other side is missing or goes away: connection refused, server killed mid-stream,
// client killed mid-compare (the server cancels the work and serves the next request).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "tests/e2e/cli_process.h"
#include "tests/support/server_process.h"

namespace layerscope::e2e {
namespace {

// A comparison that runs for most of an hour on CPU unless cancelled: 10000 samples of 64 tokens, one per forward
// pass (more text than the embedded model's, so it is sent inline). Small forward passes make the first progress
// event come at once and let the server notice a cancellation quickly; the tests below stop the comparison as
// soon as it has begun, so it costs a moment when cancellation works.
constexpr int kLongSamples = 10000;
constexpr int kLongSeqLen = 64;

class LongText {
 public:
  LongText() {
    char path[] = "/tmp/layerscope_e2e_text_XXXXXX";
    const int fd = mkstemp(path);
    EXPECT_GE(fd, 0);
    close(fd);
    path_ = path;
    const std::string line = "The quick brown fox jumps over the lazy dog; layerscope compares modes.\n";
    std::string text;
    while (text.size() < static_cast<size_t>(kLongSamples) * kLongSeqLen) text += line;
    std::ofstream(path_, std::ios::binary) << text;
  }
  ~LongText() { std::remove(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A loopback address where nothing listens: a port the kernel just handed out and was closed again.
std::string ClosedAddress() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  socklen_t len = sizeof(addr);
  EXPECT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  close(fd);
  return "127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
}

// Starts the long comparison against `server` with stderr on a terminal, and waits until the progress bar shows.
std::unique_ptr<CliProcess> StartLongCompare(const ServerProcess& server, const LongText& text) {
  CliProcess::Options terminal;
  terminal.stderr_is_terminal = true;
  auto process = std::make_unique<CliProcess>(
      std::vector<std::string>{"--server", server.address(), "compare", "fp16", "bf16", "--samples",
                               std::to_string(kLongSamples), "--seq-len", std::to_string(kLongSeqLen), "--batch-size",
                               "1", "--text-file", text.path()},
      terminal);
  EXPECT_TRUE(process->WaitForStderr("% (", std::chrono::seconds(60))) << "no progress shown";
  return process;
}

TEST(DisconnectTest, ConnectionRefusedExitsThreeAtOnce) {
  const CliResult run = RunCli({"--server", ClosedAddress(), "compare", "fp16"});
  EXPECT_EQ(run.exit_code, 3) << run.err;
  EXPECT_LT(run.elapsed, std::chrono::seconds(3));
  EXPECT_EQ(run.err.rfind("layerscope: error: cannot connect to layerscoped at 127.0.0.1:", 0), 0u) << run.err;
}

TEST(DisconnectTest, ServerKilledMidStreamExitsThree) {
  const LongText text;
  ServerProcess server({"--no-quantize"});
  std::unique_ptr<CliProcess> client = StartLongCompare(server, text);
  ASSERT_EQ(kill(server.pid(), SIGKILL), 0);
  const CliResult run = client->Wait(std::chrono::seconds(30));
  EXPECT_FALSE(run.timed_out);
  EXPECT_EQ(run.exit_code, 3) << run.err;
  EXPECT_NE(run.err.find("layerscope: error: compare: server unavailable"), std::string::npos) << run.err;
  EXPECT_EQ(run.out, "");  // no partial report
}

TEST(DisconnectTest, ClientKilledMidCompareTheServerCancelsAndServesTheNext) {
  // One comparison at a time: were the killed client's work not cancelled, the next request would wait behind it
  // for minutes.
  const LongText text;
  ServerProcess server({"--no-quantize", "--max-concurrent", "1"});
  std::unique_ptr<CliProcess> client = StartLongCompare(server, text);
  client->Kill(SIGKILL);
  client->Wait(std::chrono::seconds(10));

  const CliResult next = RunCli({"--server", server.address(), "compare", "fp16", "--samples", "1", "--seq-len", "16",
                                 "--layers", "0", "--points", "mixer_output"},
                                std::chrono::seconds(30));
  EXPECT_FALSE(next.timed_out) << "the server is still busy with the killed client's comparison";
  EXPECT_EQ(next.exit_code, 0) << next.err;
  EXPECT_NE(next.out.find("Layer 0 - Comparison Results"), std::string::npos);
  EXPECT_EQ(server.Stop(), 0) << server.Stderr();
}

TEST(DisconnectTest, TimeoutEndsTheCallWithExitOne) {
  const LongText text;
  ServerProcess server({"--no-quantize"});
  const CliResult run = RunCli(
      {"--server", server.address(), "--timeout", "0.5", "compare", "fp16", "--samples", std::to_string(kLongSamples),
       "--seq-len", std::to_string(kLongSeqLen), "--batch-size", "1", "--text-file", text.path()},
      std::chrono::seconds(30));
  EXPECT_FALSE(run.timed_out);
  EXPECT_EQ(run.exit_code, 1) << run.err;
  EXPECT_EQ(run.err, "layerscope: error: compare: no complete answer within --timeout 0.5 s\n");
  EXPECT_LT(run.elapsed, std::chrono::seconds(10));
}

}  // namespace
}  // namespace layerscope::e2e
