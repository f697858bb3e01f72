// The metrics reduction on tensors of either device: checks, makes inputs fp32 contiguous and dispatches to the
// CPU reference or the CUDA kernels (metrics_reduce.h). Internal to the core library (LibTorch types).
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

#include "kernels/metrics/metrics_reduce.h"

namespace layerscope {

// The moments of the pairs (ref[i], mode[i]) over every element (same shape and device). When `abs_diff` is
// defined (a contiguous fp32 tensor of ref.numel() elements on that device, such as a slice of a population
// buffer that several batches fill), it receives the |d| population values in the same pass. On CUDA the
// kernels run on the current stream and the call waits for their result.
PairMoments ReducePairs(const at::Tensor& ref, const at::Tensor& mode, const at::Tensor& abs_diff = {});

// ReducePairs with each finite pair's |d| population value counted into `histogram` (kAbsDiffBuckets int64 counts on
// the pairs' device, added to what it holds) instead of kept: the histogram pass of metrics_reduce.h, for
// populations too large to keep. window_center: a |d| near the bulk (ReducePairsToHistogramCuda); speed only.
PairMoments ReducePairsIntoHistogram(const at::Tensor& ref, const at::Tensor& mode, const at::Tensor& histogram,
                                     float window_center);

// HistogramPercentiles (abs_diff_buckets.h) of such a histogram of `count` finite values, on a host copy of it.
std::vector<double> AbsDiffHistogramPercentiles(const at::Tensor& histogram, int64_t count,
                                                const std::vector<double>& qs);

// The values of the given 0-based ranks in a |d| population (contiguous fp32, either device; NaN entries last).
std::vector<float> AbsDiffOrderStatistics(const at::Tensor& abs_diff, const std::vector<int64_t>& ranks);

// Percentiles q in [0, 100] of the `count` finite entries of a |d| population with numpy's linear
// interpolation: what MetricAccumulator reports as p50 ... p99. All the ranks are selected in one call.
std::vector<double> AbsDiffPercentiles(const at::Tensor& abs_diff, int64_t count, const std::vector<double>& qs);

}  // namespace layerscope
