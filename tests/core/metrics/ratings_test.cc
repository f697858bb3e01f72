// The rating words on both sides of every threshold (MODES.md §5).
#include "core/metrics/ratings.h"

#include <gtest/gtest.h>

#include <cmath>

namespace layerscope {
namespace {

double Below(double x) { return std::nextafter(x, -1.0); }
double Above(double x) { return std::nextafter(x, 2.0); }

TEST(RatingsTest, Mse) {
  EXPECT_EQ(RateMse(0), "excellent");
  EXPECT_EQ(RateMse(Below(1e-5)), "excellent");
  EXPECT_EQ(RateMse(1e-5), "very good");
  EXPECT_EQ(RateMse(Below(1e-4)), "very good");
  EXPECT_EQ(RateMse(1e-4), "good");
  EXPECT_EQ(RateMse(Below(1e-3)), "good");
  EXPECT_EQ(RateMse(1e-3), "fair");
  EXPECT_EQ(RateMse(Below(1e-2)), "fair");
  EXPECT_EQ(RateMse(1e-2), "poor");
  EXPECT_EQ(RateMse(5), "poor");
}

TEST(RatingsTest, Correlation) {
  EXPECT_EQ(RateCorrelation(1.0), "perfect");
  EXPECT_EQ(RateCorrelation(Above(0.9999)), "perfect");
  EXPECT_EQ(RateCorrelation(0.9999), "excellent");
  EXPECT_EQ(RateCorrelation(Above(0.999)), "excellent");
  EXPECT_EQ(RateCorrelation(0.999), "good");
  EXPECT_EQ(RateCorrelation(Above(0.99)), "good");
  EXPECT_EQ(RateCorrelation(0.99), "fair");
  EXPECT_EQ(RateCorrelation(Above(0.95)), "fair");
  EXPECT_EQ(RateCorrelation(0.95), "poor");
  EXPECT_EQ(RateCorrelation(-1.0), "poor");
  EXPECT_EQ(RateCorrelation(std::nullopt), "undefined");
}

TEST(RatingsTest, RelativeMae) {
  EXPECT_EQ(RateRelativeMae(0), "excellent");
  EXPECT_EQ(RateRelativeMae(Below(0.001)), "excellent");
  EXPECT_EQ(RateRelativeMae(0.001), "very good");
  EXPECT_EQ(RateRelativeMae(Below(0.01)), "very good");
  EXPECT_EQ(RateRelativeMae(0.01), "good");
  EXPECT_EQ(RateRelativeMae(Below(0.05)), "good");
  EXPECT_EQ(RateRelativeMae(0.05), "fair");
  EXPECT_EQ(RateRelativeMae(Below(0.10)), "fair");
  EXPECT_EQ(RateRelativeMae(0.10), "poor");
  EXPECT_EQ(RateRelativeMae(3), "poor");
}

}  // namespace
}  // namespace layerscope
