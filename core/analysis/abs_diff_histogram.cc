#include "core/analysis/abs_diff_histogram.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "core/metrics/metric_accumulator.h"
#include "core/util/error.h"

namespace layerscope {

AbsDiffHistogram MakeAbsDiffHistogram(std::vector<float>& abs_diffs, int bins, const std::vector<double>& percentiles) {
  if (bins < 1)
    throw Error(ErrorKind::kInvalidArgument, "histogram bins must be at least 1, got " + std::to_string(bins));
  AbsDiffHistogram histogram;
  histogram.total = static_cast<int64_t>(abs_diffs.size());
  float lo = 0, hi = 0;  // smallest and largest non-zero |d|
  for (float v : abs_diffs) {
    if (v == 0) {
      ++histogram.zeros;
    } else {
      lo = lo == 0 ? v : std::min(lo, v);
      hi = std::max(hi, v);
    }
  }
  if (hi > 0) {
    const int n = lo == hi ? 1 : bins;
    histogram.edges.resize(n + 1);
    histogram.edges.front() = lo;
    histogram.edges.back() = hi;
    const double log_ratio = std::log(static_cast<double>(hi) / lo);
    for (int i = 1; i < n; ++i) histogram.edges[i] = lo * std::exp(log_ratio * i / n);
    histogram.counts.assign(n, 0);
    for (float v : abs_diffs) {
      if (v == 0) continue;
      // The bin whose lower edge is the last one <= v; v == hi belongs to the last bin.
      const auto above = std::upper_bound(histogram.edges.begin(), histogram.edges.end(), static_cast<double>(v));
      const int bin = std::min(static_cast<int>(above - histogram.edges.begin()) - 1, n - 1);
      ++histogram.counts[bin];
    }
  }
  for (double q : percentiles) {
    if (!(q >= 0 && q <= 100)) {
      throw Error(ErrorKind::kInvalidArgument, "percentile " + std::to_string(q) + " is outside [0, 100]");
    }
    histogram.percentiles.push_back({q, abs_diffs.empty() ? 0.0 : Percentile(abs_diffs, q)});
  }
  return histogram;
}

}  // namespace layerscope
