// `--fail-if` against the real server: the report as usual, then exit code 4 and one stderr line per matching row;
// no match exits 0; a bad expression exits 2 before any call.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/e2e/cli_process.h"
#include "tests/support/server_process.h"

namespace layerscope::e2e {
namespace {

class FailIfTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new ServerProcess({"--calibration-samples", "1", "--calibration-seq-len", "64"});
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }

  static CliResult Compare(const std::string& expression) {
    return RunCli({"--server", server_->address(), "compare", "fp16", "--samples", "1", "--seq-len", "32", "--layers",
                   "0,-1", "--fail-if", expression});
  }

  static ServerProcess* server_;
};

ServerProcess* FailIfTest::server_ = nullptr;

TEST_F(FailIfTest, NoMatchExitsZero) {
  const CliResult run = Compare("mse > 1");
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.out, "");
  EXPECT_EQ(run.err.find("fail-if"), std::string::npos) << run.err;
}

TEST_F(FailIfTest, MatchPrintsTheReportThenTheRowsAndExitsFour) {
  const CliResult run = Compare("mse > 0 and layer==last");
  EXPECT_EQ(run.exit_code, 4) << run.err;
  EXPECT_NE(run.out, "");  // the report as usual
  // The embedded model has 6 layers: -1 is layer 5, and only it may match.
  EXPECT_NE(run.err.find("layerscope: fail-if: mode fp16 layer 5 point "), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("(mse > 0 and layer==last)\n"), std::string::npos) << run.err;
  EXPECT_EQ(run.err.find("layer 0 "), std::string::npos) << run.err;
}

TEST_F(FailIfTest, BadExpressionExitsTwoBeforeAnyCall) {
  const CliResult run = Compare("mse >");
  EXPECT_EQ(run.exit_code, 2) << run.err;
  EXPECT_EQ(run.out, "");
  EXPECT_EQ(run.err, "layerscope: error: --fail-if: expected a number after 'mse>', got the end of 'mse >'\n");
  // No server at all: the expression fails first, not the connection.
  const CliResult offline = RunCli({"--server", "127.0.0.1:1", "compare", "fp16", "--fail-if", "cor < 1"});
  EXPECT_EQ(offline.exit_code, 2) << offline.err;
  EXPECT_NE(offline.err.find("expected a known name, got 'cor' at column 1"), std::string::npos) << offline.err;
}

}  // namespace
}  // namespace layerscope::e2e
