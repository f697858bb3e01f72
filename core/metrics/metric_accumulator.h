// MetricAccumulator: streams (reference, mode) element pairs batch by batch and produces Metrics at the end.
// Sums are fp64 and added in element order, so the same inputs give bit-identical metrics. Percentiles are exact
// while the |d| population fits `exact_budget` values; past that the accumulator switches to a histogram over
// |d| binned by exponent and leading fraction bits (kernels/metrics/abs_diff_buckets.h, shared with the device
// histogram), whose relative error bound Metrics reports.
//
// The percentile population is |d| rounded to float32 (relative rounding <= 2^-24; +inf only where |d| exceeds
// FLT_MAX): "exact" means exact over that population. Every other metric uses d = m - r in fp64.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include "core/metrics/metrics.h"
#include "kernels/metrics/metrics_reduce.h"

namespace layerscope {

class MetricAccumulator {
 public:
  static constexpr size_t kDefaultExactBudget = size_t{1} << 27;  // 128 Mi values = 512 MiB of |d| floats

  explicit MetricAccumulator(size_t exact_budget = kDefaultExactBudget);

  void Add(const float* ref, const float* mode, size_t n);
  // Reorders the stored |d| values in place (selection) instead of copying up to exact_budget floats; the stored
  // multiset is unchanged, so later Add/Finish calls are unaffected. Do not call concurrently on one object.
  Metrics Finish() const;

 private:
  // Count, mean and centred second moments of a set of pairs (r, m) and of d = m - r, merged chunk by chunk
  // with Chan et al.'s parallel update so that variances do not cancel catastrophically when |mean| >> std.
  // The values are shifted by the first finite pair (shift_*_), so the chunk means that the update subtracts
  // are O(std) rather than O(|mean|) and do not bring eps * |mean| of rounding into the variances.
  struct Moments {
    int64_t n = 0;
    double mean_r = 0, mean_m = 0, mean_d = 0;  // of the shifted values
    double m2_r = 0, m2_m = 0, m2_d = 0;        // sum of squared deviations from the mean
    double c_rm = 0;                            // sum of (r - mean_r)(m - mean_m)

    void Merge(const Moments& other);
  };

  void AddAbsDiff(float abs_diff);
  void SwitchToHistogram();

  size_t exact_budget_;
  int64_t nonfinite_ref_ = 0, nonfinite_mode_ = 0;
  Moments moments_;
  double shift_r_ = 0, shift_m_ = 0, shift_d_ = 0;
  // Raw sums for MSE, MAE, relative errors, SQNR and cosine: non-negative terms or a plain dot product.
  double sum_r2_ = 0, sum_m2_ = 0, sum_d2_ = 0, sum_abs_r_ = 0, sum_abs_d_ = 0, sum_rm_ = 0;
  // Exact extrema; min == max is also how a side is recognised as constant (its std is then exactly 0).
  static constexpr double kInf = std::numeric_limits<double>::infinity();
  double min_r_ = kInf, max_r_ = -kInf, min_m_ = kInf, max_m_ = -kInf, min_d_ = kInf, max_d_ = -kInf;
  double max_abs_d_ = 0;
  mutable std::vector<float> abs_diffs_;  // exact mode: every |d|; mutable because Finish() selects in place
  std::vector<uint64_t> histogram_;       // histogram mode (non-empty once switched): counts per |d| bucket
};

// The |d| percentiles every comparison reports (p50, p90, p95, p99), in that order.
inline constexpr double kReportedPercentiles[4] = {50, 90, 95, 99};

// Metrics from the moments of a population of pairs and its |d| percentiles (kReportedPercentiles, with the bound
// on their relative error; 0 when exact). The one place the definitions of ../shared/docs/MODES.md §5 are
// computed: the CPU accumulator and the device reduction (kernels/metrics) both end here.
Metrics MetricsFromMoments(const PairMoments& moments, const double (&percentiles)[4],
                           double percentile_relative_error);

// Percentile q in [0, 100] of values with numpy's default (linear) interpolation; reorders `values`
// (selection, not a full sort). Throws on an empty vector.
double Percentile(std::vector<float>& values, double q);

}  // namespace layerscope
