#include "kernels/metrics/metrics_reduce_op.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "core/util/error.h"

#ifdef LAYERSCOPE_WITH_CUDA
#include "kernels/common/cuda_stream.h"
#endif

namespace layerscope {
namespace {

at::Tensor Fp32Contiguous(const at::Tensor& t) { return t.to(at::kFloat).contiguous(); }

void CheckPopulation(const at::Tensor& abs_diff, const char* what) {
  if (abs_diff.scalar_type() != at::kFloat || !abs_diff.is_contiguous()) {
    throw Error(ErrorKind::kInternal, std::string(what) + ": the |d| population must be contiguous fp32");
  }
}

#ifdef LAYERSCOPE_WITH_CUDA
// Device scratch from the caching allocator: no cudaMalloc per call.
at::Tensor DeviceBytes(const at::Tensor& on, size_t bytes) {
  return at::empty({static_cast<int64_t>(bytes)}, at::TensorOptions().dtype(at::kByte).device(on.device()));
}

// The moments a kernel left in device memory, on the host once the current stream has run it.
PairMoments MomentsToHost(const at::Tensor& result) {
  const at::Tensor host = result.cpu();  // on the current stream, after the kernels
  PairMoments moments;
  std::memcpy(&moments, host.data_ptr(), sizeof moments);
  return moments;
}
#else
[[noreturn]] void NoCuda(const char* what) {
  throw Error(ErrorKind::kFailedPrecondition, std::string(what) + ": this build has no CUDA kernels");
}
#endif

// A |d| histogram holds kAbsDiffBuckets counts (uint64 in int64 storage: the bits are the same below 2^63).
void CheckHistogram(const at::Tensor& histogram, const char* what) {
  if (histogram.scalar_type() != at::kLong || !histogram.is_contiguous() || histogram.numel() != kAbsDiffBuckets) {
    throw Error(ErrorKind::kInternal, std::string(what) + ": the |d| histogram must be " +
                                          std::to_string(kAbsDiffBuckets) + " contiguous int64 counts");
  }
}

void CheckPairs(const at::Tensor& ref, const at::Tensor& mode) {
  if (ref.sizes() != mode.sizes() || ref.device() != mode.device()) {
    throw Error(ErrorKind::kInternal, "metrics reduction: reference and mode differ in shape or device");
  }
}

}  // namespace

PairMoments ReducePairs(const at::Tensor& ref, const at::Tensor& mode, const at::Tensor& abs_diff) {
  CheckPairs(ref, mode);
  const at::Tensor r = Fp32Contiguous(ref), m = Fp32Contiguous(mode);
  float* abs_out = nullptr;
  if (abs_diff.defined()) {
    CheckPopulation(abs_diff, "metrics reduction");
    if (abs_diff.numel() != r.numel() || abs_diff.device() != r.device()) {
      throw Error(ErrorKind::kInternal, "metrics reduction: |d| output of " + std::to_string(abs_diff.numel()) +
                                            " elements for " + std::to_string(r.numel()) + " pairs");
    }
    abs_out = abs_diff.data_ptr<float>();
  }
  if (!r.is_cuda()) return ReducePairsCpu(r.data_ptr<float>(), m.data_ptr<float>(), r.numel(), abs_out);
#ifdef LAYERSCOPE_WITH_CUDA
  const at::Tensor workspace = DeviceBytes(r, ReducePairsCudaWorkspaceBytes());
  const at::Tensor result = DeviceBytes(r, sizeof(PairMoments));
  ReducePairsCuda(r.data_ptr<float>(), m.data_ptr<float>(), r.numel(), abs_out, workspace.data_ptr(),
                  static_cast<PairMoments*>(result.data_ptr()), CurrentCudaStream(r));
  return MomentsToHost(result);
#else
  NoCuda("metrics reduction");
#endif
}

PairMoments ReducePairsIntoHistogram(const at::Tensor& ref, const at::Tensor& mode, const at::Tensor& histogram,
                                     float window_center) {
  CheckPairs(ref, mode);
  CheckHistogram(histogram, "metrics histogram");
  if (histogram.device() != ref.device()) {
    throw Error(ErrorKind::kInternal, "metrics histogram: the histogram is not on the pairs' device");
  }
  const at::Tensor r = Fp32Contiguous(ref), m = Fp32Contiguous(mode);
  auto* counts = reinterpret_cast<uint64_t*>(histogram.data_ptr<int64_t>());
  if (!r.is_cuda()) return ReducePairsToHistogramCpu(r.data_ptr<float>(), m.data_ptr<float>(), r.numel(), counts);
#ifdef LAYERSCOPE_WITH_CUDA
  const at::Tensor workspace = DeviceBytes(r, ReducePairsCudaWorkspaceBytes());
  const at::Tensor result = DeviceBytes(r, sizeof(PairMoments));
  ReducePairsToHistogramCuda(r.data_ptr<float>(), m.data_ptr<float>(), r.numel(), counts, window_center,
                             workspace.data_ptr(), static_cast<PairMoments*>(result.data_ptr()), CurrentCudaStream(r));
  return MomentsToHost(result);
#else
  (void)window_center;
  NoCuda("metrics histogram");
#endif
}

std::vector<double> AbsDiffHistogramPercentiles(const at::Tensor& histogram, int64_t count,
                                                const std::vector<double>& qs) {
  CheckHistogram(histogram, "histogram percentiles");
  const at::Tensor host = histogram.cpu();
  return HistogramPercentiles(reinterpret_cast<const uint64_t*>(host.data_ptr<int64_t>()), count, qs);
}

std::vector<float> AbsDiffOrderStatistics(const at::Tensor& abs_diff, const std::vector<int64_t>& ranks) {
  CheckPopulation(abs_diff, "order statistics");
  if (ranks.size() > static_cast<size_t>(kMaxOrderStatistics)) {
    throw Error(ErrorKind::kInternal, "order statistics: more than " + std::to_string(kMaxOrderStatistics) + " ranks");
  }
  for (int64_t rank : ranks) {
    if (rank < 0 || rank >= abs_diff.numel()) {
      throw Error(ErrorKind::kInternal,
                  "order statistics: rank " + std::to_string(rank) + " of " + std::to_string(abs_diff.numel()));
    }
  }
  std::vector<float> values(ranks.size());
  const int k = static_cast<int>(ranks.size());
  if (!abs_diff.is_cuda()) {
    AbsDiffOrderStatisticsCpu(abs_diff.data_ptr<float>(), abs_diff.numel(), ranks.data(), k, values.data());
    return values;
  }
#ifdef LAYERSCOPE_WITH_CUDA
  const at::Tensor workspace = DeviceBytes(abs_diff, AbsDiffOrderStatisticsCudaWorkspaceBytes());
  const at::Tensor out = at::empty({k}, abs_diff.options());
  AbsDiffOrderStatisticsCuda(abs_diff.data_ptr<float>(), abs_diff.numel(), ranks.data(), k, out.data_ptr<float>(),
                             workspace.data_ptr(), CurrentCudaStream(abs_diff));
  const at::Tensor host = out.cpu();
  std::memcpy(values.data(), host.data_ptr<float>(), values.size() * sizeof(float));
  return values;
#else
  NoCuda("order statistics");
#endif
}

std::vector<double> AbsDiffPercentiles(const at::Tensor& abs_diff, int64_t count, const std::vector<double>& qs) {
  if (count < 1 || count > abs_diff.numel()) {
    throw Error(ErrorKind::kInternal,
                "percentiles: " + std::to_string(count) + " finite values among " + std::to_string(abs_diff.numel()));
  }
  std::vector<PercentileRanks> per_q;
  std::vector<int64_t> ranks;
  for (double q : qs) {
    if (!(q >= 0 && q <= 100)) throw Error(ErrorKind::kInvalidArgument, "percentile " + std::to_string(q));
    per_q.push_back(PercentileRanksOf(count, q));
    ranks.push_back(per_q.back().lower);
    ranks.push_back(per_q.back().upper);
  }
  std::sort(ranks.begin(), ranks.end());
  ranks.erase(std::unique(ranks.begin(), ranks.end()), ranks.end());
  const std::vector<float> values = AbsDiffOrderStatistics(abs_diff, ranks);
  auto value_of = [&](int64_t rank) {
    return static_cast<double>(values[std::lower_bound(ranks.begin(), ranks.end(), rank) - ranks.begin()]);
  };
  std::vector<double> out;
  for (const PercentileRanks& p : per_q)
    out.push_back(InterpolatePercentile(value_of(p.lower), value_of(p.upper), p.fraction));
  return out;
}

}  // namespace layerscope
