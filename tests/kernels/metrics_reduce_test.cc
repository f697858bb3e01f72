// The metrics reduction's CPU reference against an independent long-double computation, at odd sizes, with
// NaN/Inf pairs, constant inputs and chunked merges; the |d| order statistics against a full sort; and the
// percentile path against MetricAccumulator, bit for bit; the |d| histogram's buckets against their definition
// (frexp), the histogram pass against an independent count and its percentiles against MetricAccumulator's.
#include "kernels/metrics/metrics_reduce.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "core/metrics/metric_accumulator.h"
#include "kernels/metrics/abs_diff_buckets.h"
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

// The histogram's bucket of a |d| value by definition, independently of AbsDiffBucketOf: frexp in fp64 writes
// v = m 2^e with m in [0.5, 1), so v = 2^(e - 1) (1 + f) with f = 2m - 1, whose first 10 bits are floor(1024 f)
// (exact: f has at most 23 bits).
uint32_t BucketByFrexp(float v) {
  constexpr uint32_t kLast = 1 + 277 * 1024;  // 277 binades 2^-149 ... 2^127, 1024 buckets each, then +inf
  if (v == 0) return 0;
  if (std::isinf(v)) return kLast;
  int e;
  const double m = std::frexp(static_cast<double>(v), &e);
  const double f = 2 * m - 1;
  return 1 + static_cast<uint32_t>(e - 1 + 149) * 1024 + static_cast<uint32_t>(std::floor(f * 1024));
}

TEST(AbsDiffBucketsTest, BucketsMatchTheirDefinition) {
  EXPECT_EQ(kAbsDiffBuckets, 283650u);  // zeros, 277 x 1024 finite buckets, +inf
  EXPECT_EQ(kAbsDiffHistogramRelativeError, 1.0 / 1024);
  std::vector<float> values = {0.0f,
                               -0.0f,
                               kInf,
                               std::numeric_limits<float>::denorm_min(),
                               std::numeric_limits<float>::min(),
                               std::numeric_limits<float>::max(),
                               1.0f,
                               0.1f};
  // Every binade's ends and neighbours, subnormal ones included.
  for (int e = -149; e <= 127; ++e) {
    const float p = std::ldexp(1.0f, e);
    values.insert(values.end(), {p, std::nextafter(p, 0.0f), std::nextafter(p, kInf), p * 1.5f});
  }
  std::mt19937 rng(3);
  for (int i = 0; i < 1000000; ++i) {
    const uint32_t bits = rng() & 0x7fffffffu;
    if (bits > 0x7f800000u) continue;  // NaN: never bucketed
    float v;
    std::memcpy(&v, &bits, sizeof v);
    values.push_back(v);
  }
  for (float v : values) {
    ASSERT_EQ(AbsDiffBucketOf(v), BucketByFrexp(v)) << v << " (bits " << Bits(v) << ")";
  }
}

// Pairs whose |d| covers what the histogram must handle: a hot bulk (PairCase), exact zeros, subnormal and huge
// differences, +inf (|d| beyond FLT_MAX) and excluded NaN/Inf pairs.
PairCase HistogramCase(int64_t n, unsigned seed) {
  PairCase c(n, seed);
  std::mt19937 rng(seed);
  for (int64_t i = 0; i < n; i += 7) c.mode[i] = c.ref[i];  // |d| = 0
  for (int64_t i = 3; i < n; i += 11) {
    const uint32_t bits = 1 + rng() % 0x7fffffu;  // a subnormal
    std::memcpy(&c.mode[i], &bits, sizeof bits);
    c.ref[i] = 0;
  }
  for (int64_t i = 5; i < n; i += 13) c.mode[i] = c.ref[i] + 1e4f;
  for (int64_t i = 9; i < n; i += 101) c.ref[i] = kNan;
  for (int64_t i = 10; i < n; i += 103) c.mode[i] = -kInf;
  if (n > 1) c.ref[1] = -3e38f, c.mode[1] = 3e38f;
  return c;
}

TEST(AbsDiffBucketsTest, HistogramPassCountsEveryFinitePair) {
  for (int64_t n : {1, 2, 7, 4099, 100003}) {
    const PairCase c = HistogramCase(n, 51);
    std::vector<uint64_t> want(kAbsDiffBuckets, 0);
    int64_t excluded = 0;
    for (int64_t i = 0; i < n; ++i) {
      if (!std::isfinite(c.ref[i]) || !std::isfinite(c.mode[i])) {
        ++excluded;
        continue;
      }
      ++want[BucketByFrexp(static_cast<float>(std::fabs(double(c.mode[i]) - double(c.ref[i]))))];
    }
    // Two calls into one histogram: counts accumulate.
    std::vector<uint64_t> got(kAbsDiffBuckets, 0);
    const int64_t half = n / 2;
    PairMoments moments = ReducePairsToHistogramCpu(c.ref.data(), c.mode.data(), half, got.data());
    moments.Merge(ReducePairsToHistogramCpu(c.ref.data() + half, c.mode.data() + half, n - half, got.data()));
    EXPECT_EQ(moments.count + excluded, n);
    for (uint32_t b = 0; b < kAbsDiffBuckets; ++b) ASSERT_EQ(got[b], want[b]) << "n " << n << " bucket " << b;
    // The same moments as the reduction that keeps |d|.
    std::vector<uint64_t> whole(kAbsDiffBuckets, 0);
    EXPECT_TRUE(SameBits(ReducePairsToHistogramCpu(c.ref.data(), c.mode.data(), n, whole.data()),
                         ReducePairsCpu(c.ref.data(), c.mode.data(), n)));
    EXPECT_EQ(whole, want);
  }
}

// HistogramPercentiles of the histogram pass gives MetricAccumulator's histogram percentiles bit for bit, and both
// are within the bound of the exact ones.
TEST(AbsDiffBucketsTest, HistogramPercentilesMatchMetricAccumulator) {
  for (int64_t n : {1, 2, 9, 1001, 50000}) {
    const PairCase c = HistogramCase(n, 61);
    MetricAccumulator histogram_only(/*exact_budget=*/0), exact;
    histogram_only.Add(c.ref.data(), c.mode.data(), n);
    exact.Add(c.ref.data(), c.mode.data(), n);
    const Metrics want = histogram_only.Finish(), exact_metrics = exact.Finish();
    ASSERT_FALSE(want.percentiles_exact);
    std::vector<uint64_t> counts(kAbsDiffBuckets, 0);
    const PairMoments p = ReducePairsToHistogramCpu(c.ref.data(), c.mode.data(), n, counts.data());
    ASSERT_EQ(p.count, want.count);
    const std::vector<double> got = HistogramPercentiles(counts.data(), p.count, {50, 90, 95, 99});
    const double expected[] = {want.p50, want.p90, want.p95, want.p99};
    const double exact_values[] = {exact_metrics.p50, exact_metrics.p90, exact_metrics.p95, exact_metrics.p99};
    for (int i = 0; i < 4; ++i) {
      EXPECT_EQ(std::memcmp(&got[i], &expected[i], sizeof got[i]), 0)
          << "n " << n << ": " << got[i] << " vs " << expected[i];
      if (std::isinf(exact_values[i])) {
        EXPECT_EQ(got[i], exact_values[i]);
      } else {
        EXPECT_LE(std::fabs(got[i] - exact_values[i]), kAbsDiffHistogramRelativeError * exact_values[i]) << "n " << n;
      }
    }
  }
}

}  // namespace
}  // namespace layerscope
