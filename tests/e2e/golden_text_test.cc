// The golden comparator itself: what it must accept across CPUs and what it must still catch.
#include "tests/e2e/golden_text.h"

#include <gtest/gtest.h>

namespace layerscope::e2e {
namespace {

TEST(GoldenDifferenceTest, IdenticalTextMatches) {
  EXPECT_EQ(
      GoldenDifference("Layer 0\n  MSE: 1.000000e-06  [excellent]\n", "Layer 0\n  MSE: 1.000000e-06  [excellent]\n"),
      "");
}

TEST(GoldenDifferenceTest, NumbersWithinToleranceMatch) {
  // 1e-4 relative, and a last-digit flip of a value printed with few significant digits.
  EXPECT_EQ(GoldenDifference("  MSE:   1.234560e-06\n", "  MSE:   1.234683e-06\n"), "");
  EXPECT_EQ(GoldenDifference("  Mean Diff:      0.000123\n", "  Mean Diff:      0.000124\n"), "");
  // A sign change near zero shifts the padding.
  EXPECT_EQ(GoldenDifference("  Mean:      0.000000\n", "  Mean:     -0.000000\n"), "");
  EXPECT_EQ(GoldenDifference("0          0.000001     0.5\n", "0          -0.000001    0.5\n"), "");
}

TEST(GoldenDifferenceTest, NumbersBeyondToleranceDiffer) {
  EXPECT_NE(GoldenDifference("  MSE:   1.234560e-06\n", "  MSE:   1.244560e-06\n"), "");
  EXPECT_NE(GoldenDifference("  Mean Diff:      0.000123\n", "  Mean Diff:      0.000126\n"), "");
  EXPECT_NE(GoldenDifference("Layer 0\n", "Layer 1\n"), "");
  EXPECT_NE(GoldenDifference("Elements: 12288\n", "Elements: 12300\n"), "");
}

TEST(GoldenDifferenceTest, TextAroundNumbersMustMatch) {
  EXPECT_NE(GoldenDifference("  MSE: 1.0e-06  [excellent]\n", "  MSE: 1.0e-06  [very good]\n"), "");
  EXPECT_NE(GoldenDifference("  Correlation: 0.999\n", "  Correlation: undefined (constant input)\n"), "");
  EXPECT_NE(GoldenDifference("a\nb\n", "a\n"), "");
  EXPECT_NE(GoldenDifference("a\n", "a\nb\n"), "");
  EXPECT_NE(GoldenDifference("a\n", "a"), "");
}

TEST(GoldenDifferenceTest, ServerTimesAreFreeButTheirStagesAreNot) {
  const std::string golden = "Server time: 2.000 s (forward fp32 1.000 s, metrics 0.500 s)\n";
  EXPECT_EQ(GoldenDifference(golden, "Server time: 9.500 s (forward fp32 7.250 s, metrics 0.010 s)\n"), "");
  EXPECT_NE(GoldenDifference(golden, "Server time: 2.000 s (forward fp16 1.000 s, metrics 0.500 s)\n"), "");
  EXPECT_NE(GoldenDifference(golden, "Server time: 2.000 s (forward fp32 1.000 s)\n"), "");
  // Only that line: elsewhere the same change of a number is caught.
  EXPECT_NE(GoldenDifference("Time: 2.000 s\n", "Time: 9.500 s\n"), "");
}

TEST(GoldenDifferenceTest, NamesWithDigitsAreText) {
  // "fp16" is not 16 and "2-0" is a mode name, not 2 and -0.
  EXPECT_NE(GoldenDifference("Mode 'fp16'\n", "Mode 'fp17'\n"), "");
  EXPECT_EQ(GoldenDifference("Mode 2-0 x\n", "Mode 2-0 x\n"), "");
  EXPECT_NE(GoldenDifference("Mode 2-0 x\n", "Mode 2-1 x\n"), "");
}

TEST(GoldenDifferenceTest, SaysWhere) {
  EXPECT_EQ(GoldenDifference("a\nx 1.0\n", "a\nx 2.0\n"),
            "line 2: number 1.0 became 2.0\n  expected: x 1.0\n  actual:   x 2.0");
}

}  // namespace
}  // namespace layerscope::e2e
