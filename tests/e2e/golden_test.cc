// The text reports of the real client against the real server, compared with the goldens in tests/e2e/golden
// (structurally, see golden_text.h). Regenerate them with
//   LAYERSCOPE_UPDATE_GOLDEN=1 build/tests/e2e/e2e_test --gtest_filter='GoldenTest.*'
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/e2e/cli_process.h"
#include "tests/e2e/golden_text.h"
#include "tests/e2e/shared_server.h"

namespace layerscope::e2e {
namespace {

const std::vector<std::string> kCompareFp16 = {"compare",   "fp16", "--samples", "2",
                                               "--seq-len", "64",   "--layers",  "0,-1"};
const std::vector<std::string> kCompareAll = {"compare-all", "--samples", "2", "--seq-len", "32", "--layers", "0,-1"};

// Runs the client and checks the golden: exit 0, and nothing on stderr since it is not a terminal (no progress bar).
void ExpectGolden(const std::string& golden, const std::vector<std::string>& args) {
  const CliResult run = RunCli(Against(SharedServer(), args));
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.err, "");
  EXPECT_EQ(CheckGolden(golden, run.out), "");
}

TEST(GoldenTest, Modes) { ExpectGolden("modes.txt", {"modes"}); }
TEST(GoldenTest, Points) { ExpectGolden("points.txt", {"points"}); }
TEST(GoldenTest, CompareFp16) { ExpectGolden("compare_fp16.txt", kCompareFp16); }
TEST(GoldenTest, CompareAll) { ExpectGolden("compare_all.txt", kCompareAll); }

}  // namespace
}  // namespace layerscope::e2e
