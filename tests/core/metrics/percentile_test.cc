// Percentile() against numpy's linear interpolation worked out by hand and against a sorted copy.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "core/metrics/metric_accumulator.h"
#include "core/util/error.h"

namespace layerscope {
namespace {

double PercentileOf(std::vector<float> values, double q) { return Percentile(values, q); }

TEST(PercentileTest, ByHand) {
  // n = 4, index = 3 q / 100 between sorted[floor] and sorted[floor + 1].
  const std::vector<float> v = {4, 1, 3, 2};  // unsorted on purpose
  EXPECT_EQ(PercentileOf(v, 0), 1);
  EXPECT_DOUBLE_EQ(PercentileOf(v, 25), 1.75);  // index 0.75: 1 + 0.75 * (2 - 1)
  EXPECT_DOUBLE_EQ(PercentileOf(v, 50), 2.5);   // index 1.5: 2 + 0.5 * (3 - 2)
  EXPECT_DOUBLE_EQ(PercentileOf(v, 90), 3.7);   // index 2.7: 3 + 0.7 * (4 - 3)
  EXPECT_DOUBLE_EQ(PercentileOf(v, 99), 3.97);  // index 2.97: 3 + 0.97 * (4 - 3)
  EXPECT_EQ(PercentileOf(v, 100), 4);
  // Ties: sorted {1, 1, 1, 10}; P90 index 2.7: 1 + 0.7 * 9 = 7.3; P50 index 1.5 between two 1s: 1.
  EXPECT_DOUBLE_EQ(PercentileOf({10, 1, 1, 1}, 90), 7.3);
  EXPECT_EQ(PercentileOf({10, 1, 1, 1}, 50), 1);
  // n = 5, index = 4 q / 100: P10 index 0.4 of {0, 10, 20, 30, 40} -> 4; P95 index 3.8 -> 38.
  EXPECT_DOUBLE_EQ(PercentileOf({40, 0, 30, 10, 20}, 10), 4);
  EXPECT_DOUBLE_EQ(PercentileOf({40, 0, 30, 10, 20}, 95), 38);
  EXPECT_EQ(PercentileOf({5}, 0), 5);
  EXPECT_EQ(PercentileOf({5}, 37), 5);
  EXPECT_EQ(PercentileOf({5}, 100), 5);
}

TEST(PercentileTest, ReordersButKeepsTheValues) {
  std::vector<float> v = {9, 3, 7, 1, 5};
  EXPECT_EQ(Percentile(v, 50), 5);
  std::sort(v.begin(), v.end());
  EXPECT_EQ(v, (std::vector<float>{1, 3, 5, 7, 9}));
}

TEST(PercentileTest, MatchesSortedCopy) {
  std::mt19937_64 rng(31);
  std::exponential_distribution<float> dist;
  for (size_t n : {2, 3, 10, 1001, 65537}) {
    std::vector<float> values(n);
    for (float& v : values) v = dist(rng);
    std::vector<float> sorted = values;
    std::sort(sorted.begin(), sorted.end());
    for (double q = 0; q <= 100; q += 2.5) {
      const long double index = static_cast<long double>(n - 1) * q / 100;
      const size_t lower = static_cast<size_t>(std::floor(index));
      const size_t upper = std::min(lower + 1, n - 1);
      const long double expected =
          sorted[lower] + (static_cast<long double>(sorted[upper]) - sorted[lower]) * (index - lower);
      std::vector<float> copy = values;
      EXPECT_NEAR(Percentile(copy, q), static_cast<double>(expected), 1e-12 * static_cast<double>(expected))
          << "n " << n << " q " << q;
    }
  }
}

TEST(PercentileTest, RejectsEmptyAndOutOfRange) {
  std::vector<float> empty;
  EXPECT_THROW(Percentile(empty, 50), Error);
  std::vector<float> v = {1, 2};
  EXPECT_THROW(Percentile(v, -1), Error);
  EXPECT_THROW(Percentile(v, 100.5), Error);
  EXPECT_THROW(Percentile(v, std::numeric_limits<double>::quiet_NaN()), Error);
}

}  // namespace
}  // namespace layerscope
