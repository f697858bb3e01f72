// MetricAccumulator against values worked out by hand and against an independent two-pass long double
// computation in this file; edge cases (constant, identical, non-finite, empty), the histogram fallback and
// determinism.
#include "core/metrics/metric_accumulator.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <iterator>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "core/metrics/ratings.h"

namespace layerscope {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

// Feeds r and m in chunks of the given sizes; the last chunk takes whatever is left.
Metrics Accumulate(const std::vector<float>& r, const std::vector<float>& m, const std::vector<size_t>& chunks,
                   size_t exact_budget = MetricAccumulator::kDefaultExactBudget) {
  MetricAccumulator acc(exact_budget);
  size_t at = 0;
  for (size_t chunk : chunks) {
    const size_t n = std::min(chunk, r.size() - at);
    acc.Add(r.data() + at, m.data() + at, n);
    at += n;
  }
  acc.Add(r.data() + at, m.data() + at, r.size() - at);
  return acc.Finish();
}

// numpy's linear-interpolation percentile of an ascending sorted vector, in long double.
long double SortedPercentile(const std::vector<float>& sorted, double q) {
  const long double index = static_cast<long double>(sorted.size() - 1) * q / 100;
  const size_t lower = static_cast<size_t>(std::floor(index));
  const size_t upper = std::min(lower + 1, sorted.size() - 1);
  return sorted[lower] + (static_cast<long double>(sorted[upper]) - sorted[lower]) * (index - lower);
}

// The definitions of MODES.md §5, straightforwardly: filter the finite pairs, then two passes in long double.
Metrics ReferenceMetrics(const std::vector<float>& ref, const std::vector<float>& mode) {
  Metrics x;
  std::vector<long double> r, m;
  for (size_t i = 0; i < ref.size(); ++i) {
    if (!std::isfinite(ref[i])) {
      ++x.nonfinite_ref;
    } else if (!std::isfinite(mode[i])) {
      ++x.nonfinite_mode;
    } else {
      r.push_back(ref[i]);
      m.push_back(mode[i]);
    }
  }
  const size_t n = r.size();
  x.count = static_cast<int64_t>(n);
  if (n == 0) return x;
  long double sr = 0, sm = 0, sd = 0, sr2 = 0, sm2 = 0, sd2 = 0, sar = 0, sad = 0, srm = 0, maxad = 0;
  std::vector<float> abs_d;
  for (size_t i = 0; i < n; ++i) {
    const long double d = m[i] - r[i];
    sr += r[i], sm += m[i], sd += d;
    sr2 += r[i] * r[i], sm2 += m[i] * m[i], sd2 += d * d, srm += r[i] * m[i];
    sar += std::fabs(r[i]), sad += std::fabs(d);
    maxad = std::max(maxad, std::fabs(d));
    abs_d.push_back(static_cast<float>(std::fabs(d)));
  }
  const long double mr = sr / n, mm = sm / n, md = sd / n;
  long double vr = 0, vm = 0, vd = 0, cov = 0;
  for (size_t i = 0; i < n; ++i) {
    vr += (r[i] - mr) * (r[i] - mr);
    vm += (m[i] - mm) * (m[i] - mm);
    vd += (m[i] - r[i] - md) * (m[i] - r[i] - md);
    cov += (r[i] - mr) * (m[i] - mm);
  }
  x.ref_mean = mr, x.mode_mean = mm, x.diff_mean = md;
  x.ref_std = std::sqrt(vr / n), x.mode_std = std::sqrt(vm / n), x.diff_std = std::sqrt(vd / n);
  x.ref_min = *std::min_element(r.begin(), r.end()), x.ref_max = *std::max_element(r.begin(), r.end());
  x.mode_min = *std::min_element(m.begin(), m.end()), x.mode_max = *std::max_element(m.begin(), m.end());
  x.mae = x.mean_abs_diff = sad / n;
  x.max_abs_diff = maxad;
  x.mse = sd2 / n;
  x.rmse = std::sqrt(sd2 / n);
  x.relative_mse = (sd2 / n) / (sr2 / n + 1e-8L);
  x.relative_mae = (sad / n) / (sar / n + 1e-8L);
  if (vr > 0 && vm > 0) x.correlation = cov / std::sqrt(vr * vm);
  if (sr2 > 0 && sm2 > 0) x.cosine = srm / std::sqrt(sr2 * sm2);
  if (sd2 > 0) x.sqnr_db = 10 * std::log10(sr2 / sd2);
  std::sort(abs_d.begin(), abs_d.end());
  x.p50 = SortedPercentile(abs_d, 50), x.p90 = SortedPercentile(abs_d, 90);
  x.p95 = SortedPercentile(abs_d, 95), x.p99 = SortedPercentile(abs_d, 99);
  return x;
}

// |actual - expected| <= rel * max(|expected|, scale): `scale` is the magnitude a quantity's rounding follows
// (a mean near zero is as accurate as the values summed, not as its own size).
void ExpectClose(const std::string& what, double actual, double expected, double rel, double scale = 0) {
  EXPECT_LE(std::fabs(actual - expected), rel * std::max(std::fabs(expected), scale))
      << what << ": actual " << actual << " expected " << expected;
}

void ExpectClose(const std::string& what, std::optional<double> actual, std::optional<double> expected, double rel) {
  ASSERT_EQ(actual.has_value(), expected.has_value()) << what;
  if (expected) ExpectClose(what, *actual, *expected, rel, 1);
}

void ExpectMetricsClose(const Metrics& a, const Metrics& x, double rel) {
  EXPECT_EQ(a.count, x.count);
  EXPECT_EQ(a.nonfinite_ref, x.nonfinite_ref);
  EXPECT_EQ(a.nonfinite_mode, x.nonfinite_mode);
  const double ref_rms = std::hypot(x.ref_mean, x.ref_std), mode_rms = std::hypot(x.mode_mean, x.mode_std);
  ExpectClose("ref_mean", a.ref_mean, x.ref_mean, rel, ref_rms);
  ExpectClose("ref_std", a.ref_std, x.ref_std, rel);
  ExpectClose("mode_mean", a.mode_mean, x.mode_mean, rel, mode_rms);
  ExpectClose("mode_std", a.mode_std, x.mode_std, rel);
  ExpectClose("diff_mean", a.diff_mean, x.diff_mean, rel, x.rmse);
  ExpectClose("diff_std", a.diff_std, x.diff_std, rel);
  EXPECT_EQ(a.ref_min, x.ref_min);
  EXPECT_EQ(a.ref_max, x.ref_max);
  EXPECT_EQ(a.mode_min, x.mode_min);
  EXPECT_EQ(a.mode_max, x.mode_max);
  EXPECT_EQ(a.max_abs_diff, x.max_abs_diff);
  ExpectClose("mean_abs_diff", a.mean_abs_diff, x.mean_abs_diff, rel);
  ExpectClose("mae", a.mae, x.mae, rel);
  ExpectClose("mse", a.mse, x.mse, rel);
  ExpectClose("rmse", a.rmse, x.rmse, rel);
  ExpectClose("relative_mse", a.relative_mse, x.relative_mse, rel);
  ExpectClose("relative_mae", a.relative_mae, x.relative_mae, rel);
  ExpectClose("correlation", a.correlation, x.correlation, rel);
  ExpectClose("cosine", a.cosine, x.cosine, rel);
  ExpectClose("sqnr_db", a.sqnr_db, x.sqnr_db, rel);
  ExpectClose("p50", a.p50, x.p50, rel);
  ExpectClose("p90", a.p90, x.p90, rel);
  ExpectClose("p95", a.p95, x.p95, rel);
  ExpectClose("p99", a.p99, x.p99, rel);
  EXPECT_TRUE(a.percentiles_exact);
  EXPECT_EQ(a.percentile_relative_error, 0);
}

uint64_t Bits(double v) {
  uint64_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  return bits;
}

void ExpectBitIdentical(const Metrics& a, const Metrics& b) {
  EXPECT_EQ(a.count, b.count);
  EXPECT_EQ(a.nonfinite_ref, b.nonfinite_ref);
  EXPECT_EQ(a.nonfinite_mode, b.nonfinite_mode);
  const double Metrics::*fields[] = {&Metrics::ref_mean,      &Metrics::ref_std,
                                     &Metrics::ref_min,       &Metrics::ref_max,
                                     &Metrics::mode_mean,     &Metrics::mode_std,
                                     &Metrics::mode_min,      &Metrics::mode_max,
                                     &Metrics::diff_mean,     &Metrics::diff_std,
                                     &Metrics::mean_abs_diff, &Metrics::max_abs_diff,
                                     &Metrics::mse,           &Metrics::rmse,
                                     &Metrics::mae,           &Metrics::relative_mse,
                                     &Metrics::relative_mae,  &Metrics::p50,
                                     &Metrics::p90,           &Metrics::p95,
                                     &Metrics::p99,           &Metrics::percentile_relative_error};
  for (size_t i = 0; i < std::size(fields); ++i) EXPECT_EQ(Bits(a.*fields[i]), Bits(b.*fields[i])) << "field " << i;
  const std::optional<double> Metrics::*optionals[] = {&Metrics::correlation, &Metrics::cosine, &Metrics::sqnr_db};
  for (auto field : optionals) {
    ASSERT_EQ((a.*field).has_value(), (b.*field).has_value());
    if ((a.*field).has_value()) {
      EXPECT_EQ(Bits(*(a.*field)), Bits(*(b.*field)));
    }
  }
  EXPECT_EQ(a.percentiles_exact, b.percentiles_exact);
}

// r ~ offset + N(0, 1), m = r + noise_scale * N(0, 1), both float32.
void RandomPair(size_t n, double offset, double noise_scale, uint64_t seed, std::vector<float>* r,
                std::vector<float>* m) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal;
  r->resize(n);
  m->resize(n);
  for (size_t i = 0; i < n; ++i) {
    (*r)[i] = static_cast<float>(offset + normal(rng));
    (*m)[i] = static_cast<float>((*r)[i] + noise_scale * normal(rng));
  }
}

TEST(MetricAccumulatorTest, TinyExampleByHand) {
  // r = {1, 2, 3, 4}, m = {1.5, 2, 2.25, 5}, d = m - r = {0.5, 0, -0.75, 1}: all dyadic, so every sum is exact.
  const std::vector<float> r = {1, 2, 3, 4}, m = {1.5f, 2, 2.25f, 5};
  const Metrics x = Accumulate(r, m, {1, 2});
  EXPECT_EQ(x.count, 4);
  // ref: mean 10 / 4 = 2.5; deviations -1.5, -0.5, 0.5, 1.5; squares sum 2.25 + 0.25 + 0.25 + 2.25 = 5; var 1.25.
  EXPECT_DOUBLE_EQ(x.ref_mean, 2.5);
  EXPECT_DOUBLE_EQ(x.ref_std, std::sqrt(1.25));
  EXPECT_EQ(x.ref_min, 1);
  EXPECT_EQ(x.ref_max, 4);
  // mode: mean 10.75 / 4 = 2.6875; deviations -1.1875, -0.6875, -0.4375, 2.3125;
  // squares 1.41015625 + 0.47265625 + 0.19140625 + 5.34765625 = 7.421875; var 7.421875 / 4 = 1.85546875.
  EXPECT_DOUBLE_EQ(x.mode_mean, 2.6875);
  EXPECT_DOUBLE_EQ(x.mode_std, std::sqrt(1.85546875));
  EXPECT_EQ(x.mode_min, 1.5);
  EXPECT_EQ(x.mode_max, 5);
  // d: mean 0.75 / 4 = 0.1875; deviations 0.3125, -0.1875, -0.9375, 0.8125;
  // squares 0.09765625 + 0.03515625 + 0.87890625 + 0.66015625 = 1.671875; var 1.671875 / 4 = 0.41796875.
  EXPECT_DOUBLE_EQ(x.diff_mean, 0.1875);
  EXPECT_DOUBLE_EQ(x.diff_std, std::sqrt(0.41796875));
  // |d| = {0.5, 0, 0.75, 1}: sum 2.25, mean 0.5625, max 1.
  EXPECT_DOUBLE_EQ(x.mean_abs_diff, 0.5625);
  EXPECT_DOUBLE_EQ(x.mae, 0.5625);
  EXPECT_EQ(x.max_abs_diff, 1);
  // sum d^2 = 0.25 + 0 + 0.5625 + 1 = 1.8125; MSE 1.8125 / 4 = 0.453125.
  EXPECT_DOUBLE_EQ(x.mse, 0.453125);
  EXPECT_DOUBLE_EQ(x.rmse, std::sqrt(0.453125));
  // sum r^2 = 1 + 4 + 9 + 16 = 30, mean r^2 = 7.5; mean |r| = 2.5.
  EXPECT_DOUBLE_EQ(x.relative_mse, 0.453125 / (7.5 + 1e-8));
  EXPECT_DOUBLE_EQ(x.relative_mae, 0.5625 / (2.5 + 1e-8));
  // SQNR = 10 log10(30 / 1.8125).
  ASSERT_TRUE(x.sqnr_db);
  EXPECT_DOUBLE_EQ(*x.sqnr_db, 10 * std::log10(30 / 1.8125));
  // sum r m = 1.5 + 4 + 6.75 + 20 = 32.25; sum m^2 = 2.25 + 4 + 5.0625 + 25 = 36.3125.
  ASSERT_TRUE(x.cosine);
  EXPECT_DOUBLE_EQ(*x.cosine, 32.25 / std::sqrt(30 * 36.3125));
  // cov sum: (-1.5)(-1.1875) + (-0.5)(-0.6875) + (0.5)(-0.4375) + (1.5)(2.3125)
  //        = 1.78125 + 0.34375 - 0.21875 + 3.46875 = 5.375 (= 32.25 - 4 * 2.5 * 2.6875).
  ASSERT_TRUE(x.correlation);
  EXPECT_DOUBLE_EQ(*x.correlation, 5.375 / std::sqrt(5 * 7.421875));
  // sorted |d| = {0, 0.5, 0.75, 1}, index = 3 q / 100:
  // P50: 1.5 -> 0.5 + 0.5 * 0.25 = 0.625; P90: 2.7 -> 0.75 + 0.7 * 0.25 = 0.925;
  // P95: 2.85 -> 0.75 + 0.85 * 0.25 = 0.9625; P99: 2.97 -> 0.75 + 0.97 * 0.25 = 0.9925.
  EXPECT_DOUBLE_EQ(x.p50, 0.625);
  EXPECT_DOUBLE_EQ(x.p90, 0.925);
  EXPECT_DOUBLE_EQ(x.p95, 0.9625);
  EXPECT_DOUBLE_EQ(x.p99, 0.9925);
  EXPECT_TRUE(x.percentiles_exact);
  EXPECT_EQ(x.nonfinite_ref, 0);
  EXPECT_EQ(x.nonfinite_mode, 0);
}

TEST(MetricAccumulatorTest, MatchesLongDoubleTwoPass) {
  struct Case {
    double offset, noise;
  };
  // Offset 3e5 with unit spread: |mean| / std = 3e5, where a one-pass sum of squares would keep ~5 digits.
  for (const Case c : {Case{0, 0.01}, Case{1, 0.5}, Case{3e5, 0.1}}) {
    for (size_t n : {1, 2, 7, 1237, 100003}) {
      SCOPED_TRACE("offset " + std::to_string(c.offset) + " n " + std::to_string(n));
      std::vector<float> r, m;
      RandomPair(n, c.offset, c.noise, n, &r, &m);
      ExpectMetricsClose(Accumulate(r, m, {1, 5}), ReferenceMetrics(r, m), 1e-12);
    }
  }
}

TEST(MetricAccumulatorTest, ManySmallChunks) {
  std::vector<float> r, m;
  RandomPair(10007, 50, 0.2, 7, &r, &m);
  ExpectMetricsClose(Accumulate(r, m, std::vector<size_t>(3000, 3)), ReferenceMetrics(r, m), 1e-12);
}

TEST(MetricAccumulatorTest, ConstantInputs) {
  // 0.1f is not dyadic: its mean over 333 values is not exactly representable, so only an exact test finds it constant.
  std::vector<float> r(333, 0.1f), m;
  std::mt19937_64 rng(3);
  std::normal_distribution<float> normal;
  for (size_t i = 0; i < r.size(); ++i) m.push_back(normal(rng));
  Metrics x = Accumulate(r, m, {100});
  EXPECT_FALSE(x.correlation);
  EXPECT_EQ(RateCorrelation(x.correlation), "undefined");
  EXPECT_EQ(x.ref_std, 0);
  EXPECT_GT(x.mode_std, 0.5);
  ASSERT_TRUE(x.cosine);

  x = Accumulate(m, r, {100});  // constant mode
  EXPECT_FALSE(x.correlation);
  EXPECT_EQ(x.mode_std, 0);

  x = Accumulate(r, r, {7});  // both constant and identical
  EXPECT_FALSE(x.correlation);
  EXPECT_FALSE(x.sqnr_db);
  EXPECT_EQ(x.ref_std, 0);
  EXPECT_EQ(x.diff_std, 0);
  ASSERT_TRUE(x.cosine);
  EXPECT_EQ(*x.cosine, 1);

  x = Accumulate(std::vector<float>(m.size(), 0.0f), m, {});  // all-zero reference: no cosine, SQNR -inf
  EXPECT_FALSE(x.cosine);
  ASSERT_TRUE(x.sqnr_db);
  EXPECT_EQ(*x.sqnr_db, -std::numeric_limits<double>::infinity());
}

TEST(MetricAccumulatorTest, IdenticalInputs) {
  std::vector<float> r, unused;
  RandomPair(1001, 2, 0, 11, &r, &unused);
  const Metrics x = Accumulate(r, r, {10, 100});
  EXPECT_EQ(x.mse, 0);
  EXPECT_EQ(x.rmse, 0);
  EXPECT_EQ(x.mae, 0);
  EXPECT_EQ(x.max_abs_diff, 0);
  EXPECT_EQ(x.diff_mean, 0);
  EXPECT_EQ(x.diff_std, 0);
  EXPECT_EQ(x.relative_mse, 0);
  EXPECT_FALSE(x.sqnr_db);
  ASSERT_TRUE(x.correlation);
  EXPECT_EQ(*x.correlation, 1);
  ASSERT_TRUE(x.cosine);
  EXPECT_EQ(*x.cosine, 1);
  EXPECT_EQ(x.p50, 0);
  EXPECT_EQ(x.p99, 0);
  EXPECT_EQ(x.ref_mean, x.mode_mean);
  EXPECT_EQ(x.ref_std, x.mode_std);
}

TEST(MetricAccumulatorTest, NonFiniteModeIsCountedAndExcluded) {
  std::vector<float> r, m;
  RandomPair(2003, 0.5, 0.05, 5, &r, &m);
  m[0] = kNaN;
  m[17] = kInf;
  m[1000] = -kInf;
  m[2002] = kNaN;
  const Metrics x = Accumulate(r, m, {1, 5, 600});
  EXPECT_EQ(x.nonfinite_mode, 4);
  EXPECT_EQ(x.nonfinite_ref, 0);
  EXPECT_EQ(x.count, 1999);
  std::vector<float> fr, fm;
  for (size_t i = 0; i < r.size(); ++i) {
    if (std::isfinite(m[i])) fr.push_back(r[i]), fm.push_back(m[i]);
  }
  Metrics finite = ReferenceMetrics(fr, fm);
  finite.nonfinite_mode = 4;
  ExpectMetricsClose(x, finite, 1e-12);
  // In one chunk the skipped elements leave no trace: bit-identical to feeding the finite subset.
  Metrics one_chunk = Accumulate(r, m, {}), subset = Accumulate(fr, fm, {});
  subset.nonfinite_mode = 4;
  ExpectBitIdentical(one_chunk, subset);
}

TEST(MetricAccumulatorTest, NonFiniteRefIsCountedFirst) {
  std::vector<float> r, m;
  RandomPair(500, 0, 0.1, 9, &r, &m);
  r[3] = kNaN;
  r[4] = kInf;
  m[4] = kNaN;  // both non-finite: counted once, as the reference's
  m[9] = -kInf;
  const Metrics x = Accumulate(r, m, {4, 4});
  EXPECT_EQ(x.nonfinite_ref, 2);
  EXPECT_EQ(x.nonfinite_mode, 1);
  EXPECT_EQ(x.count, 497);
  ExpectMetricsClose(x, ReferenceMetrics(r, m), 1e-12);
}

TEST(MetricAccumulatorTest, EmptyAccumulator) {
  MetricAccumulator acc;
  acc.Add(nullptr, nullptr, 0);
  const std::vector<float> nan_only = {kNaN};
  acc.Add(nan_only.data(), nan_only.data(), 1);
  const Metrics x = acc.Finish();
  Metrics zeros;
  zeros.nonfinite_ref = 1;
  ExpectBitIdentical(x, zeros);
  EXPECT_FALSE(x.correlation);
  EXPECT_FALSE(x.cosine);
  EXPECT_FALSE(x.sqnr_db);
  ExpectBitIdentical(MetricAccumulator().Finish(), Metrics());
}

TEST(MetricAccumulatorTest, SingleElement) {
  // r = 2, m = 3: d = 1; no spread, so no correlation; cosine 6 / sqrt(4 * 9) = 1; SQNR 10 log10(4 / 1).
  const Metrics x = Accumulate({2}, {3}, {});
  EXPECT_EQ(x.count, 1);
  EXPECT_EQ(x.ref_mean, 2);
  EXPECT_EQ(x.mode_mean, 3);
  EXPECT_EQ(x.ref_std, 0);
  EXPECT_EQ(x.mode_std, 0);
  EXPECT_EQ(x.diff_mean, 1);
  EXPECT_EQ(x.diff_std, 0);
  EXPECT_EQ(x.mse, 1);
  EXPECT_EQ(x.mae, 1);
  EXPECT_DOUBLE_EQ(x.relative_mse, 1 / (4 + 1e-8));
  EXPECT_DOUBLE_EQ(x.relative_mae, 1 / (2 + 1e-8));
  EXPECT_FALSE(x.correlation);
  ASSERT_TRUE(x.cosine);
  EXPECT_EQ(*x.cosine, 1);
  ASSERT_TRUE(x.sqnr_db);
  EXPECT_DOUBLE_EQ(*x.sqnr_db, 10 * std::log10(4.0));
  EXPECT_EQ(x.p50, 1);
  EXPECT_EQ(x.p99, 1);
}

// The exact |d| percentiles of r, m, from a sorted copy.
std::vector<double> SortedAbsDiffPercentiles(const std::vector<float>& r, const std::vector<float>& m) {
  std::vector<float> abs_d;
  for (size_t i = 0; i < r.size(); ++i) {
    abs_d.push_back(static_cast<float>(std::fabs(static_cast<double>(m[i]) - r[i])));
  }
  std::sort(abs_d.begin(), abs_d.end());
  std::vector<double> out;
  for (double q : {50, 90, 95, 99}) out.push_back(static_cast<double>(SortedPercentile(abs_d, q)));
  return out;
}

void ExpectWithinBound(const Metrics& x, const std::vector<double>& exact) {
  EXPECT_FALSE(x.percentiles_exact);
  EXPECT_GT(x.percentile_relative_error, 0);
  EXPECT_LE(x.percentile_relative_error, 1e-3);
  const double estimates[] = {x.p50, x.p90, x.p95, x.p99};
  for (size_t i = 0; i < exact.size(); ++i) {
    // The bound holds up to the fp64 rounding of the interpolation (~1e-16 relative).
    EXPECT_LE(std::fabs(estimates[i] - exact[i]), x.percentile_relative_error * exact[i] * (1 + 1e-12))
        << "percentile " << i << ": estimate " << estimates[i] << " exact " << exact[i];
  }
}

TEST(MetricAccumulatorTest, HistogramPastBudgetStaysWithinBound) {
  std::vector<float> r, m;
  RandomPair(100003, 0, 0.01, 13, &r, &m);
  const Metrics x = Accumulate(r, m, {1, 5, 999, 2000}, 1000);
  ExpectWithinBound(x, SortedAbsDiffPercentiles(r, m));
  // Everything but the percentiles is untouched by the switch.
  Metrics exact = Accumulate(r, m, {1, 5, 999, 2000});
  exact.p50 = x.p50, exact.p90 = x.p90, exact.p95 = x.p95, exact.p99 = x.p99;
  exact.percentiles_exact = false;
  exact.percentile_relative_error = x.percentile_relative_error;
  ExpectBitIdentical(x, exact);
}

TEST(MetricAccumulatorTest, HistogramCoversZerosSubnormalsAndHugeValues) {
  // r = 0, so |d| = |m|: 60% exact zeros, then values log-uniform over 2^-149 (the smallest subnormal) .. 1e30.
  std::mt19937_64 rng(17);
  std::uniform_real_distribution<double> log2_value(-149, 99);
  std::vector<float> r(20001, 0.0f), m(20001, 0.0f);
  for (size_t i = 12000; i < m.size(); ++i) m[i] = static_cast<float>(std::exp2(log2_value(rng)));
  std::shuffle(m.begin(), m.end(), rng);
  const Metrics x = Accumulate(r, m, {}, 0);
  EXPECT_EQ(x.p50, 0);
  ExpectWithinBound(x, SortedAbsDiffPercentiles(r, m));

  // Only subnormal and tiny normal |d|, where a relative bound is hardest to keep.
  std::uniform_real_distribution<double> tiny(-149, -120);
  for (float& v : m) v = static_cast<float>(std::exp2(tiny(rng)));
  ExpectWithinBound(Accumulate(r, m, {}, 0), SortedAbsDiffPercentiles(r, m));
}

TEST(MetricAccumulatorTest, SwitchesOnlyPastTheBudget) {
  std::vector<float> r, m;
  RandomPair(11, 0, 1, 19, &r, &m);
  EXPECT_TRUE(Accumulate(r, m, {3}, 11).percentiles_exact);
  EXPECT_FALSE(Accumulate(r, m, {3}, 10).percentiles_exact);
}

TEST(MetricAccumulatorTest, Deterministic) {
  std::vector<float> r, m;
  RandomPair(100003, 1, 0.3, 23, &r, &m);
  r[50] = kNaN;
  m[60] = kInf;
  const std::vector<size_t> chunks = {1, 5, 4096, 77777};
  ExpectBitIdentical(Accumulate(r, m, chunks), Accumulate(r, m, chunks));
  ExpectBitIdentical(Accumulate(r, m, chunks, 5000), Accumulate(r, m, chunks, 5000));
}

TEST(MetricAccumulatorTest, FinishTwiceAndAddAfterFinish) {
  std::vector<float> r, m;
  RandomPair(3001, 0, 0.1, 29, &r, &m);
  MetricAccumulator acc;
  acc.Add(r.data(), m.data(), 2000);
  const Metrics first = acc.Finish();
  ExpectBitIdentical(acc.Finish(), first);  // the in-place selection leaves the population unchanged
  acc.Add(r.data() + 2000, m.data() + 2000, 1001);
  ExpectMetricsClose(acc.Finish(), ReferenceMetrics(r, m), 1e-12);
}

}  // namespace
}  // namespace layerscope
