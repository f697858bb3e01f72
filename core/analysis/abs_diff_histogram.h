// AbsDiffHistogram: the distribution of |d| (d = mode - reference) over one capture, as log-spaced bins plus exact
// percentiles, so that a report can draw the whole distribution and not only its averages.
#pragma once

#include <cstdint>
#include <vector>

namespace layerscope {

struct PercentileValue {
  double q = 0;      // in [0, 100]
  double value = 0;  // numpy's default (linear) interpolation
};

struct AbsDiffHistogram {
  // Bin i holds edges[i] <= |d| < edges[i + 1]; the last bin also holds |d| == edges.back(). edges.front() is the
  // smallest non-zero |d|, edges.back() the largest, the others log-spaced between them. One bin when every
  // non-zero |d| is the same; no bins (and no edges) when every |d| is zero.
  std::vector<double> edges;
  std::vector<int64_t> counts;
  int64_t zeros = 0;  // |d| == 0 exactly: no log-spaced bin holds it
  int64_t total = 0;  // zeros + every count
  std::vector<PercentileValue> percentiles;
};

// The histogram of `abs_diffs` (|d| rounded to float32, every value finite and >= 0) with `bins` bins (>= 1) and
// the given percentiles (each in [0, 100]). Reorders `abs_diffs` (selection for the percentiles). Throws
// Error(kInvalidArgument) for bins < 1 or a percentile outside [0, 100]; percentiles of no values are 0.
AbsDiffHistogram MakeAbsDiffHistogram(std::vector<float>& abs_diffs, int bins, const std::vector<double>& percentiles);

}  // namespace layerscope
