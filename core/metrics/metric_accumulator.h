// MetricAccumulator: streams (reference, mode) element pairs batch by batch and produces Metrics at the end.
// Sums are fp64 and added in element order, so the same inputs give bit-identical metrics. Percentiles are exact
// while the |d| population fits `exact_budget` values; past that the accumulator switches to a histogram over
// float bit patterns whose relative error bound Metrics reports.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/metrics/metrics.h"

namespace layerscope {

class MetricAccumulator {
 public:
  static constexpr size_t kDefaultExactBudget = size_t{1} << 27;  // 128 Mi values = 512 MiB of |d| floats

  explicit MetricAccumulator(size_t exact_budget = kDefaultExactBudget);

  void Add(const float* ref, const float* mode, size_t n);
  Metrics Finish() const;

 private:
  // ... (implementation-defined state: fp64 sums, min/max, |d| buffer or histogram)
};

// Percentile q in [0, 100] of values with numpy's default (linear) interpolation; reorders `values`
// (selection, not a full sort). Throws on an empty vector.
double Percentile(std::vector<float>& values, double q);

}  // namespace layerscope
