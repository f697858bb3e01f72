// The life of the real layerscoped process: health while the model loads, shutdown by signal, and the ways it
// refuses to start.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>
#include <thread>

#include "layerscope/v1/layerscope.grpc.pb.h"
#include "tests/server/compare_call.h"
#include "tests/server/test_dir.h"
#include "tests/support/server_process.h"

namespace layerscope::server {
namespace {

namespace fs = std::filesystem;

const std::string kEmbedded = std::string(LAYERSCOPE_SOURCE_DIR) + "/core/model/embedded";

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

HealthStatus Health(const ServerProcess& server) {
  HealthStatus status = HealthStatus::kUnknown;
  const grpc::Status call = CheckHealth(server.NewChannel(), "", &status);
  EXPECT_TRUE(call.ok()) << call.error_message();
  return status;
}

TEST(LifecycleTest, HealthIsNotServingUntilTheModelIsLoaded) {
  // The model's config.json is a FIFO: loading blocks reading it until the test writes the real file into it.
  testing::TestDir dir;
  const std::string model = dir.Sub("held-model");
  ASSERT_EQ(mkfifo((model + "/config.json").c_str(), 0600), 0);
  fs::create_symlink(kEmbedded + "/model.safetensors", model + "/model.safetensors");
  auto server = ServerProcess::StartWithoutWaiting({"--model", model, "--no-quantize"});
  auto stub = v1::Layerscope::NewStub(server->NewChannel());

  EXPECT_EQ(Health(*server), HealthStatus::kNotServing);
  {  // Calls that need the model wait for it (here until their deadline) ...
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(300));
    v1::ListModelsResponse response;
    EXPECT_EQ(stub->ListModels(&context, {}, &response).error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  }
  {  // ... the others are answered.
    grpc::ClientContext context;
    v1::ListModesResponse response;
    EXPECT_TRUE(stub->ListModes(&context, {}, &response).ok());
  }
  // A call made while loading is answered once the model is ready.
  auto waiting = std::async(std::launch::async, [&] {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    v1::ListModelsResponse response;
    const grpc::Status status = stub->ListModels(&context, {}, &response);
    return status.ok() && response.models_size() == 1 ? response.models(0).name() : status.error_message();
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(Health(*server), HealthStatus::kNotServing);

  std::ofstream(model + "/config.json") << ReadAll(kEmbedded + "/config.json");
  HealthStatus status = HealthStatus::kNotServing;
  for (int i = 0; i < 1000 && status != HealthStatus::kServing; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    status = Health(*server);
  }
  EXPECT_EQ(status, HealthStatus::kServing);
  EXPECT_EQ(waiting.get(), "held-model");
  EXPECT_EQ(server->Stop(), 0);
}

TEST(LifecycleTest, SigtermCancelsRunningComparisonsAndExitsZero) {
  ServerProcess server({"--no-quantize"});
  auto stub = v1::Layerscope::NewStub(server.NewChannel());
  v1::CompareRequest request;
  request.add_modes("fp16");
  request.set_samples(64);
  request.set_seq_len(256);
  request.set_batch_size(1);
  std::promise<void> started;
  auto call = std::async(std::launch::async, [&] {
    bool first = true;
    return testing::RunCompare(*stub, request, [&](const auto&, auto*) {
      if (first) started.set_value();
      first = false;
    });
  });
  started.get_future().wait();
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(server.Stop(std::chrono::seconds(30)), 0) << server.Stderr();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  const testing::CompareOutcome outcome = call.get();
  EXPECT_EQ(outcome.status.error_code(), grpc::StatusCode::UNAVAILABLE) << outcome.status.error_message();
  EXPECT_FALSE(outcome.events.back().has_summary());
  EXPECT_NE(server.Stderr().find("Terminated received: shutting down"), std::string::npos);
}

TEST(LifecycleTest, AModelThatCannotBeLoadedEndsTheServerNamingTheFile) {
  testing::TestDir dir;
  const std::string model = dir.Sub("broken-model");
  std::ofstream(model + "/config.json") << R"({"d_model": 64})";
  auto server = ServerProcess::StartWithoutWaiting({"--model", model});
  const std::optional<int> code = server->WaitForExit(std::chrono::seconds(60));
  ASSERT_TRUE(code.has_value()) << "still running";
  EXPECT_EQ(*code, 1);
  const std::string log = server->Stderr();
  EXPECT_NE(log.find(" error ["), std::string::npos) << log;
  EXPECT_NE(log.find("cannot load the model from " + model + ": "), std::string::npos) << log;
  EXPECT_NE(log.find(model + "/config.json"), std::string::npos) << log;
}

// Runs layerscoped with `args` to its end; returns its exit code and puts its stderr in *err.
int RunToExit(const std::string& args, std::string* err) {
  testing::TestDir dir;
  const std::string command = ServerProcess::BinaryPath() + " " + args + " --data-dir " + dir.path() +
                              "/data >/dev/null 2>" + dir.path() + "/err.txt";
  const int status = std::system(command.c_str());
  *err = ReadAll(dir.path() + "/err.txt");
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(LifecycleTest, BadFlagsExitTwoWithTheReason) {
  std::string err;
  EXPECT_EQ(RunToExit("--device gpu", &err), 2);
  EXPECT_NE(err.find("--device: must be cpu, cuda or cuda:N"), std::string::npos) << err;
  EXPECT_EQ(RunToExit("--max-samples many", &err), 2);
  EXPECT_NE(err.find("--max-samples"), std::string::npos) << err;
  EXPECT_EQ(RunToExit("--colour blue", &err), 2);
  EXPECT_NE(err.find("--colour"), std::string::npos) << err;
  EXPECT_EQ(RunToExit("--help", &err), 0);
}

TEST(LifecycleTest, WithoutTokensOnlyLoopbackAndTokensMustBeWellFormed) {
  std::string err;
  EXPECT_EQ(RunToExit("--listen 0.0.0.0:0", &err), 2);
  EXPECT_NE(err.find("layerscoped: --listen 0.0.0.0:0 is not a loopback address and no --token is configured"),
            std::string::npos)
      << err;
  EXPECT_NE(err.find("--insecure-open"), std::string::npos) << err;
  EXPECT_EQ(RunToExit("--token alice:user:" + std::string(64, 'a') + " --token bob:boss:" + std::string(64, 'b'), &err),
            2);
  EXPECT_NE(err.find("layerscoped: --token #2: "), std::string::npos) << err;
  EXPECT_EQ(RunToExit("--tls-key /etc/hostname", &err), 2);
  EXPECT_NE(err.find("--tls-key requires --tls-cert"), std::string::npos) << err;
}

TEST(LifecycleTest, APortInUseIsReported) {
  ServerProcess first({"--no-quantize"});
  std::string err;
  EXPECT_EQ(RunToExit("--no-quantize --listen " + first.address(), &err), 1);
  EXPECT_NE(err.find("cannot listen on " + first.address()), std::string::npos) << err;
}

}  // namespace
}  // namespace layerscope::server
