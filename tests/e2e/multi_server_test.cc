// `--server A,B`: the modes of one comparison spread across two real servers of the same embedded model on this
// CPU, merged into the report one server prints, bit for bit; a dead server in the list, or one of another model,
// fails the command naming it.
#include <gtest/gtest.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "tests/e2e/cli_process.h"
#include "tests/support/server_process.h"

namespace layerscope::e2e {
namespace {

const std::vector<std::string> kCompare = {"compare", "fp16",      "bf16", "0",        "--samples",
                                           "2",       "--seq-len", "32",   "--layers", "0,-1"};

std::vector<std::string> With(const std::string& servers, std::vector<std::string> args) {
  args.insert(args.begin(), {"--server", servers});
  return args;
}

std::vector<std::string> Json(std::vector<std::string> args) {
  args.insert(args.end(), {"--json", "-"});
  return args;
}

class MultiServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // Both load and calibrate at once: the suite's start is one server's, not two.
    const std::vector<std::string> args = {"--calibration-samples", "1", "--calibration-seq-len", "64"};
    std::thread second([&] { b_ = new ServerProcess(args); });
    a_ = new ServerProcess(args);
    second.join();
  }
  static void TearDownTestSuite() {
    delete a_;
    delete b_;
    a_ = b_ = nullptr;
  }
  static std::string Both() { return a_->address() + "," + b_->address(); }

  static ServerProcess* a_;
  static ServerProcess* b_;
};

ServerProcess* MultiServerTest::a_ = nullptr;
ServerProcess* MultiServerTest::b_ = nullptr;

TEST_F(MultiServerTest, SplitComparisonMatchesOneServer) {
  // The split first, while neither server has a cached result that could answer it whole.
  const CliResult split = RunCli(Json(With(Both(), kCompare)));
  ASSERT_EQ(split.exit_code, 0) << split.err;
  // Round-robin in request order: A runs fp16 and 0, B runs bf16.
  EXPECT_NE(a_->Stderr().find("modes=fp16,0 "), std::string::npos) << a_->Stderr();
  EXPECT_NE(b_->Stderr().find("modes=bf16 "), std::string::npos) << b_->Stderr();

  const CliResult single = RunCli(Json(With(a_->address(), kCompare)));
  ASSERT_EQ(single.exit_code, 0) << single.err;
  nlohmann::json split_json = nlohmann::json::parse(split.out);
  nlohmann::json single_json = nlohmann::json::parse(single.out);
  EXPECT_EQ(split_json["rows"], single_json["rows"]);
  EXPECT_EQ(split_json["layer_summaries"], single_json["layer_summaries"]);
  EXPECT_EQ(split_json["summary"]["modes"], nlohmann::json({"fp16", "bf16", "0"}));
  EXPECT_EQ(split_json["summary"]["rows"], single_json["summary"]["rows"]);
  EXPECT_EQ(split_json["summary"]["device"], "cpu");
  // The wall times differ from run to run; everything else in the summary is the same.
  EXPECT_EQ(split_json["summary"]["stages"].size(), single_json["summary"]["stages"].size());
  for (nlohmann::json* doc : {&split_json, &single_json}) {
    (*doc)["summary"].erase("server_seconds");
    (*doc)["summary"].erase("stages");
  }
  EXPECT_EQ(split_json, single_json);

  // Both devices are "cpu", so even the line naming them is the same.
  const CliResult split_text = RunCli(With(Both(), kCompare));
  const CliResult single_text = RunCli(With(a_->address(), kCompare));
  ASSERT_EQ(split_text.exit_code, 0) << split_text.err;
  ASSERT_EQ(single_text.exit_code, 0) << single_text.err;
  // All but the last line, the server's wall times.
  auto without_times = [](const std::string& out) { return out.substr(0, out.rfind("Server time:")); };
  EXPECT_NE(single_text.out.find("Server time:"), std::string::npos) << single_text.out;
  EXPECT_EQ(without_times(split_text.out), without_times(single_text.out));
}

TEST_F(MultiServerTest, DeadServerInTheListFailsNamingIt) {
  // Port 1 on loopback: nothing listens there, so the connection is refused at once.
  const std::string dead = "127.0.0.1:1";
  const CliResult result = RunCli(With(a_->address() + "," + dead, kCompare));
  EXPECT_EQ(result.exit_code, 3) << result.err;
  EXPECT_NE(result.err.find(dead), std::string::npos) << result.err;
  EXPECT_TRUE(result.out.empty()) << result.out;
}

TEST_F(MultiServerTest, ServersOfDifferentModelsAreRefused) {
  // Another default model (3 layers, d_model 40) than the embedded one.
  const ServerProcess other({"--model", LAYERSCOPE_SOURCE_DIR "/tests/fixtures/hf/random-hf-sharded", "--no-quantize"});
  const CliResult result = RunCli(With(a_->address() + "," + other.address(), kCompare));
  EXPECT_EQ(result.exit_code, 2) << result.err;
  EXPECT_NE(result.err.find("different models"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find(a_->address()), std::string::npos) << result.err;
  EXPECT_NE(result.err.find(other.address()), std::string::npos) << result.err;
  EXPECT_TRUE(result.out.empty()) << result.out;
}

TEST_F(MultiServerTest, SeveralServersOnlyForComparisons) {
  const CliResult result = RunCli(With(Both(), {"models"}));
  EXPECT_EQ(result.exit_code, 2) << result.err;
  EXPECT_NE(result.err.find("--server"), std::string::npos) << result.err;
}

}  // namespace
}  // namespace layerscope::e2e
