// Metrics reduction: everything MetricAccumulator (core/metrics/metric_accumulator.h) accumulates over a
// (reference r, mode m) pair of fp32 arrays, in one pass, and the exact order statistics of |d| (d = m - r) that
// its percentiles interpolate, or a |d| histogram (abs_diff_buckets.h) for populations too large to keep. Shared by the
// CPU reference (metrics_reduce_cpu.cc) and the CUDA kernels (metrics_reduce.cu); plain C++: the per-pair arithmetic
// below is marked host-and-device only under nvcc.
//
// Same definitions as MetricAccumulator: pairs where r or m is NaN or Inf are counted and excluded; every other
// pair contributes r, m and d = m - r in fp64, and to the |d| population |d| rounded to float32.
//
// Determinism: a CUDA reduction of the same inputs on the same device gives bit-identical PairMoments. Each
// thread adds its pairs in index order, the grid size is a function of n and the multiprocessor count only, each
// block combines its threads' moments in fixed trees, the last block to finish combines the per-block results in
// fixed trees too, and no floating-point atomics are used (the order statistics and the histogram count with
// integer atomics, exact in any order).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "kernels/common/host_device.h"
#include "kernels/metrics/abs_diff_buckets.h"

namespace layerscope {

// The sufficient statistics of a set of pairs, mergeable in any grouping (the result's last bits depend on the
// grouping, which is why the kernel fixes it). All-zero (value-initialized) is the empty set. Means and extrema
// are meaningful only when count > 0.
struct PairMoments {
  int64_t count;           // finite pairs
  int64_t nonfinite_ref;   // pairs where r was NaN or Inf
  int64_t nonfinite_mode;  // pairs where m was NaN or Inf and r was finite
  double mean_r, mean_m, mean_d;
  double m2_r, m2_m, m2_d;  // sums of squared deviations from the mean
  double c_rm;              // sum of (r - mean_r)(m - mean_m)
  double sum_r2, sum_m2, sum_d2, sum_abs_r, sum_abs_d, sum_rm;
  double min_r, max_r, min_m, max_m, min_d, max_d, max_abs_d;

  // Adds `other` with Chan, Golub and LeVeque's pairwise update of the means and centred moments.
  LAYERSCOPE_HOST_DEVICE void Merge(const PairMoments& other) {
    nonfinite_ref += other.nonfinite_ref;
    nonfinite_mode += other.nonfinite_mode;
    if (other.count == 0) return;
    if (count == 0) {
      const int64_t ref = nonfinite_ref, mode = nonfinite_mode;
      *this = other;
      nonfinite_ref = ref, nonfinite_mode = mode;
      return;
    }
    const double na = static_cast<double>(count), nb = static_cast<double>(other.count), total = na + nb;
    const double delta_r = other.mean_r - mean_r, delta_m = other.mean_m - mean_m, delta_d = other.mean_d - mean_d;
    const double share = nb / total, weight = na * share;
    mean_r += delta_r * share;
    mean_m += delta_m * share;
    mean_d += delta_d * share;
    m2_r += other.m2_r + delta_r * delta_r * weight;
    m2_m += other.m2_m + delta_m * delta_m * weight;
    m2_d += other.m2_d + delta_d * delta_d * weight;
    c_rm += other.c_rm + delta_r * delta_m * weight;
    sum_r2 += other.sum_r2;
    sum_m2 += other.sum_m2;
    sum_d2 += other.sum_d2;
    sum_abs_r += other.sum_abs_r;
    sum_abs_d += other.sum_abs_d;
    sum_rm += other.sum_rm;
    min_r = other.min_r < min_r ? other.min_r : min_r;
    max_r = other.max_r > max_r ? other.max_r : max_r;
    min_m = other.min_m < min_m ? other.min_m : min_m;
    max_m = other.max_m > max_m ? other.max_m : max_m;
    min_d = other.min_d < min_d ? other.min_d : min_d;
    max_d = other.max_d > max_d ? other.max_d : max_d;
    max_abs_d = other.max_abs_d > max_abs_d ? other.max_abs_d : max_abs_d;
    count += other.count;
  }
};

// The |d| population value of an excluded pair: a NaN, whose bits order after +inf (see the order statistics).
constexpr uint32_t kExcludedAbsDiffBits = 0x7fffffff;

// Adds pairs one at a time (one per CPU reference, one per CUDA thread). Sums run over values shifted by the first
// finite pair, so the one-pass centred moments S2 - S1^2 / n lose nothing to |mean| >> std: the shifted values are
// O(std), and fp64 sums of them cancel only ~1e-16 relative. The raw sums of squares and products are recovered
// from the shifted ones at the end (sum r^2 = S_rr + c (2 S_r + n c) for shift c), which saves the GPU four fp64
// operations per pair, its bottleneck; their terms are at most ~n max(r^2), so the recovery costs a few ulps of
// n max(r^2), far below the summation error of the sums themselves.
class PairSums {
 public:
  // Adds one pair and returns its |d| population value: |m - r| rounded to float32, or the excluded NaN.
  LAYERSCOPE_HOST_DEVICE float Add(float r, float m) {
    if (!IsFinite(r) || !IsFinite(m)) {
      ++(IsFinite(r) ? nonfinite_mode_ : nonfinite_ref_);
      const uint32_t bits = kExcludedAbsDiffBits;  // a copy: device code cannot take a host constant's address
      float excluded;
      std::memcpy(&excluded, &bits, sizeof excluded);
      return excluded;
    }
    if (count_ == 0) Start(r, m);
    return AddFinite(r, m);
  }

  // Sets the shifts (and the extrema) from the first finite pair that will be added; Add calls it itself. The CUDA
  // kernel calls it once before its loop so that AddFinite, its fast path, needs no first-pair test.
  LAYERSCOPE_HOST_DEVICE void Start(float r, float m) {
    shift_r_ = r, shift_m_ = m, shift_d_ = static_cast<double>(m) - static_cast<double>(r);
    min_r_ = max_r_ = r, min_m_ = max_m_ = m, min_d_ = max_d_ = shift_d_;
  }

  // Add for a finite pair after Start.
  LAYERSCOPE_HOST_DEVICE float AddFinite(float r, float m) {
    const double rd = r, md = m, d = md - rd;
    ++count_;
    const double sr = rd - shift_r_, sm = md - shift_m_, sd = d - shift_d_;
    s_r_ += sr, s_m_ += sm, s_d_ += sd;
    s_rr_ += sr * sr, s_mm_ += sm * sm, s_dd_ += sd * sd, s_rm_ += sr * sm;
    const double abs_d = d < 0 ? -d : d;
    sum_abs_r_ += rd < 0 ? -rd : rd;
    sum_abs_d_ += abs_d;
    min_r_ = r < min_r_ ? r : min_r_, max_r_ = r > max_r_ ? r : max_r_;
    min_m_ = m < min_m_ ? m : min_m_, max_m_ = m > max_m_ ? m : max_m_;
    min_d_ = d < min_d_ ? d : min_d_, max_d_ = d > max_d_ ? d : max_d_;
    return static_cast<float>(abs_d);
  }

  LAYERSCOPE_HOST_DEVICE PairMoments Finish() const {
    PairMoments p{};
    p.count = count_;
    p.nonfinite_ref = nonfinite_ref_;
    p.nonfinite_mode = nonfinite_mode_;
    if (count_ == 0) return p;
    const double n = static_cast<double>(count_);
    const double mr = s_r_ / n, mm = s_m_ / n, md = s_d_ / n;
    p.mean_r = shift_r_ + mr, p.mean_m = shift_m_ + mm, p.mean_d = shift_d_ + md;
    // Exactly 0 for constant data (every shifted value is 0); clamped against rounding just below 0.
    p.m2_r = NonNegative(s_rr_ - s_r_ * mr);
    p.m2_m = NonNegative(s_mm_ - s_m_ * mm);
    p.m2_d = NonNegative(s_dd_ - s_d_ * md);
    p.c_rm = s_rm_ - s_r_ * mm;
    p.sum_r2 = NonNegative(s_rr_ + shift_r_ * (2 * s_r_ + n * shift_r_));
    p.sum_m2 = NonNegative(s_mm_ + shift_m_ * (2 * s_m_ + n * shift_m_));
    p.sum_d2 = NonNegative(s_dd_ + shift_d_ * (2 * s_d_ + n * shift_d_));
    p.sum_rm = s_rm_ + shift_r_ * s_m_ + shift_m_ * s_r_ + n * shift_r_ * shift_m_;
    p.sum_abs_r = sum_abs_r_, p.sum_abs_d = sum_abs_d_;
    p.min_r = min_r_, p.max_r = max_r_, p.min_m = min_m_, p.max_m = max_m_, p.min_d = min_d_, p.max_d = max_d_;
    p.max_abs_d = -min_d_ > max_d_ ? -min_d_ : max_d_;
    return p;
  }

 private:
  // By the exponent bits, the same test on host and device (no dependence on either side's math library).
  LAYERSCOPE_HOST_DEVICE static bool IsFinite(float x) {
    uint32_t bits;
    std::memcpy(&bits, &x, sizeof bits);
    return (bits & 0x7f800000u) != 0x7f800000u;
  }
  LAYERSCOPE_HOST_DEVICE static double NonNegative(double x) { return x > 0 ? x : 0; }

  int64_t count_ = 0, nonfinite_ref_ = 0, nonfinite_mode_ = 0;
  double shift_r_ = 0, shift_m_ = 0, shift_d_ = 0;
  double s_r_ = 0, s_m_ = 0, s_d_ = 0, s_rr_ = 0, s_mm_ = 0, s_dd_ = 0, s_rm_ = 0;
  double sum_abs_r_ = 0, sum_abs_d_ = 0;
  // r and m are floats, so their extrema are exact in float; d = m - r needs fp64.
  float min_r_ = 0, max_r_ = 0, min_m_ = 0, max_m_ = 0;
  double min_d_ = 0, max_d_ = 0;
};

// The CPU reference: the pairs in index order through one PairSums. When abs_diff_out is not null, it receives
// the n |d| population values (NaN for excluded pairs).
PairMoments ReducePairsCpu(const float* ref, const float* mode, int64_t n, float* abs_diff_out = nullptr);

// The CUDA reduction (device pointers), enqueued on `stream` (a cudaStream_t; null: the legacy default stream):
// *result_device holds the moments when the stream reaches this point. abs_diff_device (nullable) receives the
// |d| population values, fused into the same pass. workspace_device: ReducePairsCudaWorkspaceBytes() of device
// memory, no initialization needed. Only in CUDA builds.
size_t ReducePairsCudaWorkspaceBytes();
void ReducePairsCuda(const float* ref_device, const float* mode_device, int64_t n, float* abs_diff_device,
                     void* workspace_device, PairMoments* result_device, void* stream);

// The histogram pass, for populations too large to keep: the same reduction, each finite pair's |d| population value
// counted in its bucket of `histogram` (kAbsDiffBuckets counts, abs_diff_buckets.h; added to what it holds, so
// batches accumulate) instead of written out. The CPU reference:
PairMoments ReducePairsToHistogramCpu(const float* ref, const float* mode, int64_t n, uint64_t* histogram);

// The CUDA histogram pass, enqueued like ReducePairsCuda (same moments, bit for bit). Counts are integer atomics,
// exact in any order. |d| concentrates in a few binades, where global atomics on the same counters would queue:
// each block counts the kAbsDiffWindowBinades binades around `window_center` (a |d| near the bulk, e.g. the mean |d|
// of earlier batches) in shared memory and adds its nonzero counts at the end; values outside go straight to
// global memory. The window changes the speed, never the counts. n < 2^32 (per-block counts are 32-bit).
constexpr int kAbsDiffWindowBinades = 16;
void ReducePairsToHistogramCuda(const float* ref_device, const float* mode_device, int64_t n,
                                uint64_t* histogram_device, float window_center, void* workspace_device,
                                PairMoments* result_device, void* stream);

// Order statistics of a |d| population. Values are ordered by their float bits read as uint32: ascending for
// values >= +0, and every NaN (the excluded pairs) after +inf, so the ranks below the number of finite pairs see
// finite pairs only. values_out[i] receives the value of 0-based rank ranks[i] in [0, n); at most
// kMaxOrderStatistics ranks per call, all resolved together.
constexpr int kMaxOrderStatistics = 16;

// The CPU reference, by nth_element on the bits.
void AbsDiffOrderStatisticsCpu(const float* values, int64_t n, const int64_t* ranks, int k, float* values_out);

// The CUDA selection: radix select over the bits, four passes of 8-bit digits, each one histogram pass over the
// population (ranks sharing a prefix share its histogram) followed by a one-block pass that picks each rank's digit.
// ranks: host memory; values_device, values_out_device, workspace_device (AbsDiffOrderStatisticsCudaWorkspaceBytes()
// bytes, no initialization needed): device memory; enqueued on `stream` like ReducePairsCuda.
size_t AbsDiffOrderStatisticsCudaWorkspaceBytes();
void AbsDiffOrderStatisticsCuda(const float* values_device, int64_t n, const int64_t* ranks, int k,
                                float* values_out_device, void* workspace_device, void* stream);

// numpy's default (linear) percentile of a population of `count` values: the virtual index (count - 1) q / 100
// lies between the order statistics of ranks lower and upper = lower + 1 (clamped), at `fraction` from lower.
struct PercentileRanks {
  int64_t lower, upper;
  double fraction;
};
PercentileRanks PercentileRanksOf(int64_t count, double q);
// numpy's _lerp between the two order statistics; +inf ends stay +inf instead of turning into NaN.
double InterpolatePercentile(double lower_value, double upper_value, double fraction);

}  // namespace layerscope
