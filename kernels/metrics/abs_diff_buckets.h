// The |d| histogram's buckets and the percentiles read from them: one definition for MetricAccumulator's host
// histogram (core/metrics) and the device histogram pass (metrics_reduce.h), so that histograms of the same |d|
// population hold the same counts and give bit-identical percentiles, with the same error bound, on either side.
//
// Bucket 0 counts exact zeros (common: elements a mode leaves unchanged) and the last bucket +inf (|d| beyond
// FLT_MAX). A finite positive float, written v = 2^e (1 + f) with e in [-149, 127] (normalized even when the float
// is subnormal), goes to bucket 1 + (e + 149) 2^10 + (first 10 bits of f). A bucket then spans
// [2^e (1 + j 2^-10), 2^e (1 + (j + 1) 2^-10)), whose width relative to any value in it is at most 2^-10,
// subnormals included (a plain `float bits >> k` would give them absolute-width buckets and no relative bound, and
// would put 0 in a bucket with them). 283,650 uint64 counters: 2.2 MiB.
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

#include "kernels/common/host_device.h"

namespace layerscope {

constexpr int kAbsDiffFractionBits = 10;
constexpr int kAbsDiffMinExponent = -149;  // 2^-149: the smallest positive float
constexpr int kAbsDiffMaxExponent = 127;   // FLT_MAX < 2^128
constexpr uint32_t kAbsDiffBucketsPerBinade = uint32_t{1} << kAbsDiffFractionBits;
constexpr uint32_t kAbsDiffInfBucket = 1 + (kAbsDiffMaxExponent - kAbsDiffMinExponent + 1) * kAbsDiffBucketsPerBinade;
constexpr uint32_t kAbsDiffBuckets = kAbsDiffInfBucket + 1;

// Why the bound holds: the exact order statistic x and its estimate e lie in the same bucket [lo, hi), so
// |e - x| / x < (hi - lo) / lo <= 2^-10. A percentile is (1 - t) x_a + t x_b with t in [0, 1] and x_a, x_b >= 0;
// replacing each x by its estimate moves it by at most (1 - t) 2^-10 x_a + t 2^-10 x_b = 2^-10 times the exact
// percentile. Only the fp64 rounding of that interpolation (~1e-16 relative) comes on top.
constexpr double kAbsDiffHistogramRelativeError = 1.0 / kAbsDiffBucketsPerBinade;

// Leading zero bits of a non-zero word, by the hardware instruction on either side.
LAYERSCOPE_HOST_DEVICE inline int LeadingZeros(uint32_t word) {
#if defined(__CUDA_ARCH__)
  return __clz(word);
#else
  return __builtin_clz(word);
#endif
}

// The bucket of a |d| population value (+-0, a positive finite float or +inf; never NaN, which marks an excluded
// pair that no histogram counts). From the float's bits by integer operations only, so host and device agree.
LAYERSCOPE_HOST_DEVICE inline uint32_t AbsDiffBucketOf(float abs_diff) {
  uint32_t bits;
  std::memcpy(&bits, &abs_diff, sizeof bits);
  bits &= 0x7fffffffu;
  if (bits == 0) return 0;
  if (bits >= 0x7f800000u) return kAbsDiffInfBucket;
  uint32_t fraction = bits & 0x7fffffu;  // 23 bits below the leading one
  int exponent = static_cast<int>(bits >> 23) - 127;
  if (bits < 0x800000u) {
    // Subnormal: the value is fraction 2^-149. Its leading one, at bit `lead`, gives the exponent; the bits below it
    // are the normalized fraction.
    const int lead = 31 - LeadingZeros(fraction);
    exponent = lead + kAbsDiffMinExponent;
    fraction = (fraction << (23 - lead)) & 0x7fffffu;
  }
  return 1 + static_cast<uint32_t>(exponent - kAbsDiffMinExponent) * kAbsDiffBucketsPerBinade +
         (fraction >> (23 - kAbsDiffFractionBits));
}

// Percentiles q in [0, 100] of the `count` values counted in `histogram` (kAbsDiffBuckets counts), with numpy's
// linear interpolation between order statistics, each estimated by spreading its bucket's values evenly over the
// bucket; within kAbsDiffHistogramRelativeError of the exact percentiles. Host only.
std::vector<double> HistogramPercentiles(const uint64_t* histogram, int64_t count, const std::vector<double>& qs);

}  // namespace layerscope
