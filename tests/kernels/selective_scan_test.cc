// The selective scan's CPU reference against an independent fp64 recurrence written here, at odd sizes.
#include "kernels/selective_scan/selective_scan.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "tests/kernels/scan_case.h"

namespace layerscope {
namespace {

class SelectiveScanCpuTest : public ::testing::TestWithParam<ScanShape> {};

TEST_P(SelectiveScanCpuTest, MatchesFp64Recurrence) {
  ScanCase c(GetParam(), 17);
  c.args.y = c.y.data();
  SelectiveScanCpu(c.args, 0, c.args.batch);
  const std::vector<double> want = c.Fp64Reference();
  // fp32 arithmetic with exp in [0, 1] decays: the error stays within a few ulps of the largest terms; 1e-5
  // relative to the output scale leaves a margin of ~100 ulps.
  double scale = 0;
  for (double v : want) scale = std::max(scale, std::fabs(v));
  for (size_t i = 0; i < want.size(); ++i) ASSERT_NEAR(c.y[i], want[i], 1e-5 * scale) << "element " << i;
}

TEST_P(SelectiveScanCpuTest, BatchSlicesAreIndependent) {
  ScanCase c(GetParam(), 23);
  c.args.y = c.y.data();
  SelectiveScanCpu(c.args, 0, c.args.batch);
  std::vector<float> sliced(c.y.size());
  c.args.y = sliced.data();
  for (int64_t b = c.args.batch - 1; b >= 0; --b) SelectiveScanCpu(c.args, b, b + 1);
  EXPECT_EQ(sliced, c.y);
}

INSTANTIATE_TEST_SUITE_P(OddSizes, SelectiveScanCpuTest,
                         ::testing::Values(ScanShape{1, 1, 1, 1}, ScanShape{2, 7, 5, 3}, ScanShape{3, 33, 80, 8},
                                           ScanShape{1, 130, 37, 16}, ScanShape{2, 61, 129, 64}));

}  // namespace
}  // namespace layerscope
