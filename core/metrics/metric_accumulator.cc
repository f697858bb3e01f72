#include "core/metrics/metric_accumulator.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <iterator>
#include <map>
#include <string>

#include "core/util/error.h"
#include "kernels/metrics/abs_diff_buckets.h"

namespace layerscope {
namespace {

// numpy's linear method (kernels/metrics/metrics_reduce.h), from the selected order statistics.
double Interpolate(const std::map<size_t, double>& order_stats, size_t n, double q) {
  const PercentileRanks ranks = PercentileRanksOf(static_cast<int64_t>(n), q);
  return InterpolatePercentile(order_stats.at(static_cast<size_t>(ranks.lower)),
                               order_stats.at(static_cast<size_t>(ranks.upper)), ranks.fraction);
}

// Places the order statistic of rank k at values[k] and returns it. Precondition: k <= *end, where
// values[0, *end) holds exactly the *end smallest values and values[*end] (when *end < size) has rank *end —
// true for *end = size and kept true by this call with *end = k. So ranks requested in descending order are
// selected in ever shorter prefixes, and a rank just below the last one is the maximum of its prefix.
double SelectRank(std::vector<float>& values, size_t k, size_t* end) {
  if (k == *end) return values[k];
  const auto first = values.begin();
  if (k + 1 == *end) {
    std::iter_swap(first + k, std::max_element(first, first + *end));
  } else {
    std::nth_element(first, first + k, first + *end);
  }
  *end = k;
  return values[k];
}

std::vector<double> ExactPercentiles(std::vector<float>& values, const std::vector<double>& qs) {
  std::vector<size_t> ranks;
  for (double q : qs) {
    const PercentileRanks r = PercentileRanksOf(static_cast<int64_t>(values.size()), q);
    ranks.push_back(static_cast<size_t>(r.lower));
    ranks.push_back(static_cast<size_t>(r.upper));
  }
  std::sort(ranks.begin(), ranks.end(), std::greater<size_t>());
  ranks.erase(std::unique(ranks.begin(), ranks.end()), ranks.end());
  std::map<size_t, double> order_stats;
  size_t end = values.size();
  for (size_t k : ranks) order_stats[k] = SelectRank(values, k, &end);
  std::vector<double> out;
  for (double q : qs) out.push_back(Interpolate(order_stats, values.size(), q));
  return out;
}

}  // namespace

void MetricAccumulator::Moments::Merge(const Moments& other) {
  if (other.n == 0) return;
  if (n == 0) {
    *this = other;
    return;
  }
  // Chan, Golub and LeVeque's pairwise update: only differences of means and already-centred sums are combined.
  const double na = static_cast<double>(n), nb = static_cast<double>(other.n), total = na + nb;
  const double delta_r = other.mean_r - mean_r, delta_m = other.mean_m - mean_m, delta_d = other.mean_d - mean_d;
  const double weight = na * nb / total;
  mean_r += delta_r * (nb / total);
  mean_m += delta_m * (nb / total);
  mean_d += delta_d * (nb / total);
  m2_r += other.m2_r + delta_r * delta_r * weight;
  m2_m += other.m2_m + delta_m * delta_m * weight;
  m2_d += other.m2_d + delta_d * delta_d * weight;
  c_rm += other.c_rm + delta_r * delta_m * weight;
  n += other.n;
}

MetricAccumulator::MetricAccumulator(size_t exact_budget) : exact_budget_(exact_budget) {}

void MetricAccumulator::Add(const float* ref, const float* mode, size_t n) {
  // Pass 1: counts, raw sums, extrema, |d| and the chunk's sums for its (shifted) means.
  Moments chunk;
  double sum_r = 0, sum_m = 0, sum_d = 0;
  for (size_t i = 0; i < n; ++i) {
    if (!std::isfinite(ref[i])) {
      ++nonfinite_ref_;
      continue;
    }
    if (!std::isfinite(mode[i])) {
      ++nonfinite_mode_;
      continue;
    }
    const double r = ref[i], m = mode[i], d = m - r;
    if (moments_.n == 0 && chunk.n == 0) shift_r_ = r, shift_m_ = m, shift_d_ = d;
    min_r_ = std::min(min_r_, r);
    max_r_ = std::max(max_r_, r);
    min_m_ = std::min(min_m_, m);
    max_m_ = std::max(max_m_, m);
    min_d_ = std::min(min_d_, d);
    max_d_ = std::max(max_d_, d);
    max_abs_d_ = std::max(max_abs_d_, std::fabs(d));
    sum_r2_ += r * r;
    sum_m2_ += m * m;
    sum_d2_ += d * d;
    sum_abs_r_ += std::fabs(r);
    sum_abs_d_ += std::fabs(d);
    sum_rm_ += r * m;
    sum_r += r - shift_r_;
    sum_m += m - shift_m_;
    sum_d += d - shift_d_;
    ++chunk.n;
    AddAbsDiff(static_cast<float>(std::fabs(d)));
  }
  if (chunk.n == 0) return;

  // Pass 2, the corrected two-pass algorithm: sums of deviations from the chunk means. The plain sums of
  // deviations are zero in exact arithmetic; what they hold is the rounding of the means, which is subtracted.
  const double count = static_cast<double>(chunk.n);
  const double mean_r = sum_r / count, mean_m = sum_m / count, mean_d = sum_d / count;
  double dev_r = 0, dev_m = 0, dev_d = 0, sq_r = 0, sq_m = 0, sq_d = 0, cross = 0;
  for (size_t i = 0; i < n; ++i) {
    if (!std::isfinite(ref[i]) || !std::isfinite(mode[i])) continue;
    const double r = ref[i], m = mode[i];
    const double dr = (r - shift_r_) - mean_r, dm = (m - shift_m_) - mean_m, dd = ((m - r) - shift_d_) - mean_d;
    dev_r += dr;
    dev_m += dm;
    dev_d += dd;
    sq_r += dr * dr;
    sq_m += dm * dm;
    sq_d += dd * dd;
    cross += dr * dm;
  }
  chunk.mean_r = mean_r + dev_r / count;
  chunk.mean_m = mean_m + dev_m / count;
  chunk.mean_d = mean_d + dev_d / count;
  chunk.m2_r = sq_r - dev_r * dev_r / count;
  chunk.m2_m = sq_m - dev_m * dev_m / count;
  chunk.m2_d = sq_d - dev_d * dev_d / count;
  chunk.c_rm = cross - dev_r * dev_m / count;
  moments_.Merge(chunk);
}

void MetricAccumulator::AddAbsDiff(float abs_diff) {
  if (histogram_.empty()) {
    if (abs_diffs_.size() < exact_budget_) {
      // Grow geometrically, but never to a capacity past the budget: the budget is also a memory promise.
      if (abs_diffs_.size() == abs_diffs_.capacity()) {
        abs_diffs_.reserve(std::min(exact_budget_, std::max<size_t>(1024, 2 * abs_diffs_.capacity())));
      }
      abs_diffs_.push_back(abs_diff);
      return;
    }
    SwitchToHistogram();
  }
  ++histogram_[AbsDiffBucketOf(abs_diff)];
}

void MetricAccumulator::SwitchToHistogram() {
  histogram_.assign(kAbsDiffBuckets, 0);
  for (float v : abs_diffs_) ++histogram_[AbsDiffBucketOf(v)];
  std::vector<float>().swap(abs_diffs_);  // release the memory, not just the size
}

Metrics MetricsFromMoments(const PairMoments& p, const double (&percentiles)[4], double percentile_relative_error) {
  Metrics out;
  out.count = p.count;
  out.nonfinite_ref = p.nonfinite_ref;
  out.nonfinite_mode = p.nonfinite_mode;
  if (p.count == 0) return out;

  const double n = static_cast<double>(p.count);
  // min == max is the exact test for a constant side; computed second moments of constant data can be a few ulps
  // off zero when the mean is not representable. m2 <= 0 only guards the square roots against such rounding.
  const bool ref_varies = p.min_r < p.max_r && p.m2_r > 0;
  const bool mode_varies = p.min_m < p.max_m && p.m2_m > 0;
  const bool diff_varies = p.min_d < p.max_d && p.m2_d > 0;
  out.ref_mean = p.mean_r;
  out.ref_std = ref_varies ? std::sqrt(p.m2_r / n) : 0;
  out.ref_min = p.min_r;
  out.ref_max = p.max_r;
  out.mode_mean = p.mean_m;
  out.mode_std = mode_varies ? std::sqrt(p.m2_m / n) : 0;
  out.mode_min = p.min_m;
  out.mode_max = p.max_m;
  out.diff_mean = p.mean_d;
  out.diff_std = diff_varies ? std::sqrt(p.m2_d / n) : 0;
  out.mae = out.mean_abs_diff = p.sum_abs_d / n;
  out.max_abs_diff = p.max_abs_d;
  out.mse = p.sum_d2 / n;
  out.rmse = std::sqrt(out.mse);
  out.relative_mse = out.mse / (p.sum_r2 / n + 1e-8);
  out.relative_mae = out.mae / (p.sum_abs_r / n + 1e-8);
  // Clamped to [-1, 1] against rounding, as numpy's corrcoef does; sqrt of the product keeps r == m at exactly 1.
  if (ref_varies && mode_varies) out.correlation = std::clamp(p.c_rm / std::sqrt(p.m2_r * p.m2_m), -1.0, 1.0);
  if (p.sum_r2 > 0 && p.sum_m2 > 0) out.cosine = std::clamp(p.sum_rm / std::sqrt(p.sum_r2 * p.sum_m2), -1.0, 1.0);
  if (p.sum_d2 > 0) out.sqnr_db = 10 * std::log10(p.sum_r2 / p.sum_d2);
  out.p50 = percentiles[0];
  out.p90 = percentiles[1];
  out.p95 = percentiles[2];
  out.p99 = percentiles[3];
  out.percentiles_exact = percentile_relative_error == 0;
  out.percentile_relative_error = percentile_relative_error;
  return out;
}

Metrics MetricAccumulator::Finish() const {
  PairMoments p{};
  p.count = moments_.n;
  p.nonfinite_ref = nonfinite_ref_;
  p.nonfinite_mode = nonfinite_mode_;
  double percentiles[4] = {0, 0, 0, 0};
  if (moments_.n > 0) {
    p.mean_r = shift_r_ + moments_.mean_r;
    p.mean_m = shift_m_ + moments_.mean_m;
    p.mean_d = shift_d_ + moments_.mean_d;
    p.m2_r = moments_.m2_r, p.m2_m = moments_.m2_m, p.m2_d = moments_.m2_d, p.c_rm = moments_.c_rm;
    p.sum_r2 = sum_r2_, p.sum_m2 = sum_m2_, p.sum_d2 = sum_d2_;
    p.sum_abs_r = sum_abs_r_, p.sum_abs_d = sum_abs_d_, p.sum_rm = sum_rm_;
    p.min_r = min_r_, p.max_r = max_r_, p.min_m = min_m_, p.max_m = max_m_, p.min_d = min_d_, p.max_d = max_d_;
    p.max_abs_d = max_abs_d_;
    const std::vector<double> qs(std::begin(kReportedPercentiles), std::end(kReportedPercentiles));
    const std::vector<double> values =
        histogram_.empty() ? ExactPercentiles(abs_diffs_, qs) : HistogramPercentiles(histogram_.data(), moments_.n, qs);
    std::copy(values.begin(), values.end(), percentiles);
  }
  return MetricsFromMoments(p, percentiles, histogram_.empty() ? 0 : kAbsDiffHistogramRelativeError);
}

double Percentile(std::vector<float>& values, double q) {
  if (values.empty()) throw Error(ErrorKind::kInvalidArgument, "percentile of an empty set of values");
  if (!(q >= 0 && q <= 100)) {
    throw Error(ErrorKind::kInvalidArgument, "percentile " + std::to_string(q) + " is outside [0, 100]");
  }
  return ExactPercentiles(values, {q})[0];
}

}  // namespace layerscope
