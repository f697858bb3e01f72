#include "client/cli.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "client/connection.h"
#include "client/errors.h"

namespace layerscope::client {
namespace {

struct CliRun {
  int code = -1;
  std::string out;
  std::string err;
};

CliRun RunLayerscope(std::vector<std::string> args) {
  args.insert(args.begin(), "layerscope");
  std::vector<const char*> argv;
  for (const std::string& arg : args) argv.push_back(arg.c_str());
  std::ostringstream out, err;
  CliRun run;
  run.code = RunCli(static_cast<int>(argv.size()), argv.data(), out, err);
  run.out = out.str();
  run.err = err.str();
  return run;
}

// A loopback address where nothing listens: a port the kernel just handed out and was closed again.
std::string ClosedAddress() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  socklen_t len = sizeof(addr);
  EXPECT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  close(fd);
  return "127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
}

TEST(CliTest, HelpGoesToStdoutWithExitZero) {
  const CliRun run = RunLayerscope({"--help"});
  EXPECT_EQ(run.code, kExitOk);
  EXPECT_NE(run.out.find("compare-all"), std::string::npos);
  EXPECT_EQ(run.err, "");
  EXPECT_EQ(RunLayerscope({"compare", "--help"}).code, kExitOk);
}

TEST(CliTest, UsageErrorsAreOneLineAndExitTwo) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{}, "layerscope: error: A subcommand is required\n"},
      {{"frobnicate"},
       "layerscope: error: unknown command 'frobnicate' (commands: compare, comparewithfp, compare-all, report, save, "
       "localize, breakdown, effect, relations, modes, models, points, submit, watch, jobs, job, cancel)\n"},
      {{"compare", "fp16", "--samples", "0"}, "layerscope: error: --samples: must be at least 1, got 0\n"},
      {{"compare", "fp16", "--seq-len", "x"}, "layerscope: error: --seq-len: must be a whole number, got 'x'\n"},
      {{"compare", "fp16", "--timeout", "0"}, "layerscope: error: --timeout: must be more than 0 seconds, got 0\n"},
      {{"compare"}, "layerscope: error: compare: name at least one MODE or --mode-spec\n"},
      {{"compare", "fp16", "--layers", "a"},
       "layerscope: error: --layers: 'a' is not a layer or a range; write e.g. 0,-1 or 0-3\n"},
      {{"compare", "--mode-spec", "mine"},
       "layerscope: error: --mode-spec: 'mine' is not NAME:field=value,... (see 'layerscope modes' for the "
       "fields)\n"},
      {{"compare", "fp16", "--text-file", "a", "--tokens-file", "b"},
       "layerscope: error: --text-file excludes --tokens-file\n"},
      {{"compare", "fp16", "--tokens-file", "a", "--data-file", "b"},
       "layerscope: error: --tokens-file excludes --data-file\n"},
  };
  for (const auto& [args, expected] : cases) {
    // Usage errors are found before connecting: this address would fail with exit code 3.
    std::vector<std::string> with_server = args;
    with_server.insert(with_server.begin(), {"--server", ClosedAddress()});
    const CliRun run = RunLayerscope(with_server);
    EXPECT_EQ(run.code, kExitUsage) << run.err;
    EXPECT_EQ(run.err, expected);
    EXPECT_EQ(run.out, "");
  }
}

TEST(CliTest, ConnectionRefusedExitsThreeWithoutWaiting) {
  const std::string address = ClosedAddress();
  for (const char* command : {"modes", "models", "points", "compare-all"}) {
    const auto start = std::chrono::steady_clock::now();
    const CliRun run = RunLayerscope({"--server", address, command});
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2)) << command;
    EXPECT_EQ(run.code, kExitUnreachable);
    EXPECT_EQ(run.err, "layerscope: error: cannot connect to layerscoped at " + address +
                           " (connection failed; set --server or LAYERSCOPE_SERVER; a TLS server needs --tls-ca)\n");
  }
}

TEST(CliTest, ServerAddressFromTheEnvironment) {
  const std::string address = ClosedAddress();
  setenv("LAYERSCOPE_SERVER", address.c_str(), 1);
  const CliRun run = RunLayerscope({"compare", "fp16"});
  unsetenv("LAYERSCOPE_SERVER");
  EXPECT_EQ(run.code, kExitUnreachable);
  EXPECT_NE(run.err.find(address), std::string::npos) << run.err;
}

TEST(ResolveServerAddressTest, FlagThenEnvironmentThenDefault) {
  setenv("LAYERSCOPE_SERVER", "gpu-box:1234", 1);
  EXPECT_EQ(ResolveServerAddress("other:1"), "other:1");
  EXPECT_EQ(ResolveServerAddress(""), "gpu-box:1234");
  setenv("LAYERSCOPE_SERVER", "", 1);
  EXPECT_EQ(ResolveServerAddress(""), kDefaultServer);
  unsetenv("LAYERSCOPE_SERVER");
  EXPECT_EQ(ResolveServerAddress(""), "127.0.0.1:50051");
}

}  // namespace
}  // namespace layerscope::client
