// The metrics reduction's CPU reference against an independent long-double computation, at odd sizes, with
// NaN/Inf pairs, constant inputs and chunked merges; the |d| order statistics against a full sort; and the
// percentile path against MetricAccumulator, bit for bit.
#include "kernels/metrics/metrics_reduce.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "core/metrics/metric_accumulator.h"
#include "tests/kernels/pair_case.h"

namespace layerscope {
namespace {

constexpr float kNan = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

uint32_t Bits(float v) {
  uint32_t b;
  std::memcpy(&b, &v, sizeof b);
  return b;
}

bool SameBits(const PairMoments& a, const PairMoments& b) { return std::memcmp(&a, &b, sizeof a) == 0; }

class MetricsReduceCpuTest : public ::testing::TestWithParam<int64_t> {};

TEST_P(MetricsReduceCpuTest, MatchesFp64Definitions) {
  for (double mean : {0.25, -40.0}) {  // -40: |mean| >> std, where unshifted one-pass moments would cancel
    PairCase c(GetParam(), 11, mean);
    ExpectMomentsNear(ReducePairsCpu(c.ref.data(), c.mode.data(), c.size()),
                      Fp64Moments(c.ref.data(), c.mode.data(), c.size()));
  }
}

TEST_P(MetricsReduceCpuTest, MergedChunksMatchOnePass) {
  PairCase c(GetParam(), 12);
  const int64_t n = c.size();
  const PairMoments whole = ReducePairsCpu(c.ref.data(), c.mode.data(), n);
  PairMoments merged{};
  for (int64_t begin = 0, chunk = 1; begin < n; begin += chunk, chunk = chunk * 3 + 1) {
    const int64_t size = std::min(chunk, n - begin);
    merged.Merge(ReducePairsCpu(c.ref.data() + begin, c.mode.data() + begin, size));
  }
  ExpectMomentsNear(merged, whole);
  PairMoments empty{};
  merged.Merge(empty);
  empty.Merge(whole);
  EXPECT_TRUE(SameBits(empty, whole));  // merging with the empty set changes nothing
}

TEST_P(MetricsReduceCpuTest, ExcludesNonFinitePairs) {
  PairCase c(GetParam(), 13);
  const int64_t n = c.size();
  for (int64_t i = 0; i < n; i += 5) c.ref[i] = (i % 2) ? kNan : -kInf;
  for (int64_t i = 0; i < n; i += 3) c.mode[i] = (i % 2) ? kInf : kNan;
  std::vector<float> finite_ref, finite_mode;
  for (int64_t i = 0; i < n; ++i) {
    if (std::isfinite(c.ref[i]) && std::isfinite(c.mode[i]))
      finite_ref.push_back(c.ref[i]), finite_mode.push_back(c.mode[i]);
  }
  std::vector<float> abs_diff(n);
  const PairMoments got = ReducePairsCpu(c.ref.data(), c.mode.data(), n, abs_diff.data());
  const PairMoments want = Fp64Moments(c.ref.data(), c.mode.data(), n);
  EXPECT_EQ(got.nonfinite_ref, (n + 4) / 5);
  EXPECT_EQ(got.nonfinite_ref + got.nonfinite_mode + got.count, n);
  ExpectMomentsNear(got, want);
  // The excluded pairs are skipped, not replaced: the same as reducing the finite pairs alone, counts aside.
  PairMoments finite_only = ReducePairsCpu(finite_ref.data(), finite_mode.data(), int64_t(finite_ref.size()));
  finite_only.nonfinite_ref = got.nonfinite_ref, finite_only.nonfinite_mode = got.nonfinite_mode;
  EXPECT_TRUE(SameBits(got, finite_only));
  for (int64_t i = 0; i < n; ++i) {
    if (std::isfinite(c.ref[i]) && std::isfinite(c.mode[i])) {
      ASSERT_EQ(Bits(abs_diff[i]), Bits(static_cast<float>(std::fabs(double(c.mode[i]) - c.ref[i])))) << i;
    } else {
      ASSERT_EQ(Bits(abs_diff[i]), kExcludedAbsDiffBits) << i;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(OddSizes, MetricsReduceCpuTest, ::testing::Values(1, 2, 7, 1000, 4099, 100003));

TEST(MetricsReduceCpuTest, ConstantInputsHaveZeroSpread) {
  const std::vector<float> ref(1001, 0.1f), mode(1001, 0.3f);
  const PairMoments p = ReducePairsCpu(ref.data(), mode.data(), 1001);
  EXPECT_EQ(p.count, 1001);
  EXPECT_EQ(p.mean_r, double(0.1f));
  EXPECT_EQ(p.mean_m, double(0.3f));
  EXPECT_EQ(p.mean_d, double(0.3f) - double(0.1f));
  EXPECT_EQ(p.m2_r, 0);
  EXPECT_EQ(p.m2_m, 0);
  EXPECT_EQ(p.m2_d, 0);
  EXPECT_EQ(p.c_rm, 0);
  EXPECT_EQ(p.min_r, p.max_r);
  EXPECT_EQ(p.max_abs_d, double(0.3f) - double(0.1f));
}

TEST(MetricsReduceCpuTest, NoFinitePairs) {
  const std::vector<float> ref = {kNan, 1, kInf}, mode = {1, kNan, 2};
  const PairMoments p = ReducePairsCpu(ref.data(), mode.data(), 3);
  EXPECT_EQ(p.count, 0);
  EXPECT_EQ(p.nonfinite_ref, 2);
  EXPECT_EQ(p.nonfinite_mode, 1);
  EXPECT_TRUE(SameBits(ReducePairsCpu(nullptr, nullptr, 0), PairMoments{}));
}

// A |d| population with ties, zeros, a +inf (|d| beyond FLT_MAX from a finite pair) and excluded NaNs.
std::vector<float> Population(int64_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> kind(0, 9);
  std::exponential_distribution<float> exp;
  std::vector<float> v(n);
  for (auto& x : v) {
    const int k = kind(rng);
    x = k == 0 ? 0.0f : k == 1 ? 0.125f : exp(rng) * 1e-3f;
  }
  for (int64_t i = 3; i < n; i += 17) {
    float nan;
    std::memcpy(&nan, &kExcludedAbsDiffBits, sizeof nan);
    v[i] = nan;
  }
  if (n > 5) v[5] = kInf;
  return v;
}

TEST(MetricsReduceCpuTest, OrderStatisticsMatchSort) {
  for (int64_t n : {1, 7, 1000, 65537}) {
    const std::vector<float> values = Population(n, 21);
    std::vector<uint32_t> sorted(n);
    for (int64_t i = 0; i < n; ++i) sorted[i] = Bits(values[i]);
    std::sort(sorted.begin(), sorted.end());
    const std::vector<int64_t> ranks = {0, n - 1, n / 2, n / 3, std::max<int64_t>(0, n - 2), 0};
    std::vector<float> got(ranks.size());
    AbsDiffOrderStatisticsCpu(values.data(), n, ranks.data(), int(ranks.size()), got.data());
    for (size_t i = 0; i < ranks.size(); ++i)
      EXPECT_EQ(Bits(got[i]), sorted[ranks[i]]) << "n " << n << " rank " << ranks[i];
  }
  const float one = 1;
  const int64_t bad = 1;
  float out;
  EXPECT_THROW(AbsDiffOrderStatisticsCpu(&one, 1, &bad, 1, &out), std::invalid_argument);
}

// ReducePairsCpu's population, PercentileRanksOf, the order statistics and InterpolatePercentile give
// MetricAccumulator's percentiles exactly (same population, same ranks, same interpolation).
TEST(MetricsReduceCpuTest, PercentilesMatchMetricAccumulator) {
  for (int64_t n : {1, 2, 9, 1001, 50000}) {
    PairCase c(n, 31);
    if (n > 4) c.ref[3] = kNan, c.mode[4] = kInf, c.ref[2] = -3e38f, c.mode[2] = 3e38f;  // |d| = +inf at 2
    MetricAccumulator accumulator;
    accumulator.Add(c.ref.data(), c.mode.data(), n);
    const Metrics want = accumulator.Finish();
    std::vector<float> population(n);
    const PairMoments p = ReducePairsCpu(c.ref.data(), c.mode.data(), n, population.data());
    ASSERT_EQ(p.count, want.count);
    const double expected[] = {want.p50, want.p90, want.p95, want.p99};
    const double qs[] = {50, 90, 95, 99};
    for (int i = 0; i < 4; ++i) {
      const PercentileRanks r = PercentileRanksOf(p.count, qs[i]);
      const int64_t ranks[] = {r.lower, r.upper};
      float values[2];
      AbsDiffOrderStatisticsCpu(population.data(), n, ranks, 2, values);
      EXPECT_EQ(InterpolatePercentile(values[0], values[1], r.fraction), expected[i]) << "n " << n << " q " << qs[i];
    }
  }
}

}  // namespace
}  // namespace layerscope
