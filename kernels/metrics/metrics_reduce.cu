// CUDA metrics reduction and |d| radix select (metrics_reduce.h).
//
// Reduction: 8 bytes read per pair (4 more written with the |d| population) against ~15 fp64 operations and two or
// three fp32/fp64 conversions (quarter rate): at the memory's rate that is over half of a Hopper GPU's fp64
// throughput, so loads and arithmetic must overlap. A persistent grid of kBlocksPerSm blocks per multiprocessor;
// each thread reads 16-byte vectors of both inputs, kUnroll of each in flight, and adds its pairs (index i,
// i + stride, ...) in order into one PairSums. Each block then combines its threads' moments (BlockCombine: two
// passes of plain sums in fixed trees of warp shuffles), and the last block to finish combines the blocks'
// results the same way. One kernel: at a mamba-130m capture (7.9M pairs, ~15 us of loads) a second kernel would
// cost a launch.
// The histogram pass is the same kernel counting each |d| in its bucket instead of writing it (CountAbsDiff): the
// bulk in the block's shared-memory window, the rare rest with global atomics.
#include <cuda_runtime.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstring>
#include <stdexcept>
#include <string>

#include "kernels/metrics/metrics_reduce.h"

namespace layerscope {
namespace {

constexpr int kThreads = 256;
constexpr int kBlocksPerSm = 2;  // __launch_bounds__ caps registers at 128 per thread so that two blocks fit
constexpr int kMaxBlocks = 1024;
constexpr int kUnroll = 4;
constexpr unsigned kFullMask = 0xffffffffu;

void Check(cudaError_t err, const char* what) {
  if (err != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(err));
}

constexpr int kWarps = kThreads / 32;

// Every thread's kFields values combined over the block with `combine` (associative and commutative, such as + or
// min) by a fixed tree: in each warp by shuffles (lane l takes lane l + 16, then l + 8, ...), then the warps'
// results in warp order. Every thread of the block must call it; every thread gets the block's values.
template <typename T, int kFields, typename Combine>
__device__ void BlockAllReduce(T (&v)[kFields], Combine combine) {
  __shared__ T warps[kWarps][kFields];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
#pragma unroll
  for (int offset = 16; offset > 0; offset /= 2) {
#pragma unroll
    for (int f = 0; f < kFields; ++f) v[f] = combine(v[f], __shfl_down_sync(kFullMask, v[f], offset));
  }
  if (lane == 0) {
#pragma unroll
    for (int f = 0; f < kFields; ++f) warps[warp][f] = v[f];
  }
  __syncthreads();
#pragma unroll
  for (int f = 0; f < kFields; ++f) {
    T all = warps[0][f];
    for (int w = 1; w < kWarps; ++w) all = combine(all, warps[w][f]);
    v[f] = all;
  }
  __syncthreads();  // the next call reuses warps[]
}

// The PairMoments of the union of every thread's `items` sets (item(j) for j < items; a thread may have none),
// returned to every thread, in two passes of plain block-wide sums: first the counts, the raw sums, the extrema and
// Σ n·mean of each side, which give the block's means; then Σ m2 + n·(mean_i − mean)² and the cross term
// Σ c + n·(mean_r,i − mean_r)(mean_m,i − mean_m), the centred moments about those means. Every term of the second
// sums is non-negative (but the cross term's), so nothing cancels. Only the three means divide: Chan's pairwise
// update, used before, needs a division at each of a tree's 8 levels, all in one dependent chain (measured on an
// H100: a call's fixed cost went from 14.3 to 11.8 us, bench/RESULTS.md).
template <typename Item>
__device__ PairMoments BlockCombine(int items, Item item) {
  constexpr double kInf = __builtin_huge_val();
  long long counts[3] = {0, 0, 0};                              // count, nonfinite_ref, nonfinite_mode
  double sums[9] = {0, 0, 0, 0, 0, 0, 0, 0, 0};                 // n·mean_r, n·mean_m, n·mean_d, then the raw sums
  double lows[7] = {kInf, kInf, kInf, kInf, kInf, kInf, kInf};  // min_r, min_m, min_d, −max_r, −max_m, −max_d, −max|d|
  for (int j = 0; j < items; ++j) {
    const PairMoments p = item(j);
    counts[1] += p.nonfinite_ref, counts[2] += p.nonfinite_mode;
    if (p.count == 0) continue;
    const double n = static_cast<double>(p.count);
    counts[0] += p.count;
    const double add[9] = {n * p.mean_r, n * p.mean_m, n * p.mean_d, p.sum_r2, p.sum_m2,
                           p.sum_d2,     p.sum_abs_r,  p.sum_abs_d,  p.sum_rm};
    const double low[7] = {p.min_r, p.min_m, p.min_d, -p.max_r, -p.max_m, -p.max_d, -p.max_abs_d};
#pragma unroll
    for (int f = 0; f < 9; ++f) sums[f] += add[f];
#pragma unroll
    for (int f = 0; f < 7; ++f) lows[f] = fmin(lows[f], low[f]);
  }
  BlockAllReduce(counts, [](long long a, long long b) { return a + b; });
  BlockAllReduce(sums, [](double a, double b) { return a + b; });
  BlockAllReduce(lows, [](double a, double b) { return fmin(a, b); });
  PairMoments all{};
  all.nonfinite_ref = counts[1], all.nonfinite_mode = counts[2];
  if (counts[0] == 0) return all;  // every thread returns here alike: no thread is left in a later reduction
  all.count = counts[0];
  const double total = static_cast<double>(counts[0]);
  all.mean_r = sums[0] / total, all.mean_m = sums[1] / total, all.mean_d = sums[2] / total;
  all.sum_r2 = sums[3], all.sum_m2 = sums[4], all.sum_d2 = sums[5];
  all.sum_abs_r = sums[6], all.sum_abs_d = sums[7], all.sum_rm = sums[8];
  all.min_r = lows[0], all.min_m = lows[1], all.min_d = lows[2];
  all.max_r = -lows[3], all.max_m = -lows[4], all.max_d = -lows[5], all.max_abs_d = -lows[6];
  double centred[4] = {0, 0, 0, 0};  // m2_r, m2_m, m2_d, c_rm
  for (int j = 0; j < items; ++j) {
    const PairMoments p = item(j);
    if (p.count == 0) continue;
    const double n = static_cast<double>(p.count);
    const double dr = p.mean_r - all.mean_r, dm = p.mean_m - all.mean_m, dd = p.mean_d - all.mean_d;
    centred[0] += p.m2_r + n * dr * dr;
    centred[1] += p.m2_m + n * dm * dm;
    centred[2] += p.m2_d + n * dd * dd;
    centred[3] += p.c_rm + n * dr * dm;
  }
  BlockAllReduce(centred, [](double a, double b) { return a + b; });
  all.m2_r = centred[0], all.m2_m = centred[1], all.m2_d = centred[2], all.c_rm = centred[3];
  return all;
}

// A block's result as another block wrote it: from L2 (the L1 caches of multiprocessors are not coherent).
__device__ PairMoments LoadPartial(const PairMoments* partial) {
  constexpr int kWords = sizeof(PairMoments) / sizeof(long long);
  long long words[kWords];
#pragma unroll
  for (int w = 0; w < kWords; ++w) words[w] = __ldcg(reinterpret_cast<const long long*>(partial) + w);
  PairMoments p;
  std::memcpy(&p, words, sizeof p);
  return p;
}

// All 8 values finite: x * 0 is 0 for finite x and NaN for NaN or Inf. A sum that overflows to Inf only sends a
// finite group down the checked path, which handles anything.
__device__ bool AllFinite(const float4& r, const float4& m) {
  return (r.x + r.y + r.z + r.w + m.x + m.y + m.z + m.w) * 0.0f == 0.0f;
}

// Adds 4 pairs; the unchecked path when all are finite (then a finite pair of this thread has started `sums`).
__device__ float4 AddGroup(PairSums& sums, const float4& r, const float4& m) {
  if (AllFinite(r, m)) {
    return make_float4(sums.AddFinite(r.x, m.x), sums.AddFinite(r.y, m.y), sums.AddFinite(r.z, m.z),
                       sums.AddFinite(r.w, m.w));
  }
  return make_float4(sums.Add(r.x, m.x), sums.Add(r.y, m.y), sums.Add(r.z, m.z), sums.Add(r.w, m.w));
}

// What the reduction does with each pair's |d| population value besides reducing the pair.
enum class AbsDiffOutput { kNone, kWrite, kCount };

// The histogram pass's counters: a window of buckets in the block's shared memory (kWindowBuckets, from bucket
// window_first on) and all buckets in global memory.
constexpr uint32_t kWindowBuckets = kAbsDiffWindowBinades * kAbsDiffBucketsPerBinade;
constexpr size_t kWindowBytes = kWindowBuckets * sizeof(unsigned);
struct HistogramTarget {
  unsigned long long* global;
  uint32_t window_first;
};

__device__ void CountAbsDiff(unsigned* window, const HistogramTarget& target, float abs_diff) {
  if (__float_as_uint(abs_diff) == kExcludedAbsDiffBits) return;
  const uint32_t bucket = AbsDiffBucketOf(abs_diff);
  const uint32_t in_window = bucket - target.window_first;  // wraps to a huge value below the window
  if (in_window < kWindowBuckets) {
    atomicAdd(window + in_window, 1u);
  } else {
    atomicAdd(target.global + bucket, 1ull);
  }
}

__device__ void CountAbsDiffs(unsigned* window, const HistogramTarget& target, const float4& a) {
  CountAbsDiff(window, target, a.x), CountAbsDiff(window, target, a.y);
  CountAbsDiff(window, target, a.z), CountAbsDiff(window, target, a.w);
}

template <bool kVector, AbsDiffOutput kOutput>
__global__ void __launch_bounds__(kThreads, kBlocksPerSm)
    ReducePairsKernel(const float* __restrict__ ref, const float* __restrict__ mode, int64_t n,
                      float* __restrict__ abs_diff, HistogramTarget histogram, PairMoments* __restrict__ partials,
                      unsigned* finished, PairMoments* __restrict__ result) {
  // kCount: the block's window counters, kWindowBytes of dynamic shared memory (none is launched otherwise).
  extern __shared__ unsigned window[];
  if (kOutput == AbsDiffOutput::kCount) {
    for (uint32_t b = threadIdx.x; b < kWindowBuckets; b += kThreads) window[b] = 0;
    __syncthreads();
  }
  PairSums sums;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * kThreads;
  int64_t i = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  if (kVector) {
    const int64_t n4 = n / 4;
    const float4* ref4 = reinterpret_cast<const float4*>(ref);
    const float4* mode4 = reinterpret_cast<const float4*>(mode);
    float4* abs4 = reinterpret_cast<float4*>(abs_diff);
    // Start from this thread's first finite pair (almost always its very first).
    for (int64_t j = i; j < n4; j += stride) {
      const float4 r = ref4[j], m = mode4[j];
      const float rs[4] = {r.x, r.y, r.z, r.w}, ms[4] = {m.x, m.y, m.z, m.w};
      int k = 0;
      while (k < 4 && !(isfinite(rs[k]) && isfinite(ms[k]))) ++k;
      if (k < 4) {
        sums.Start(rs[k], ms[k]);
        break;
      }
    }
    // kUnroll vectors of each input in flight before the first is used. (Measured on an H200: as fast as a
    // two-stage software pipeline at 7.9M pairs and 4% faster at 64M.)
    for (; i + (kUnroll - 1) * stride < n4; i += kUnroll * stride) {
      float4 r[kUnroll], m[kUnroll];
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) r[u] = __ldcs(ref4 + i + u * stride), m[u] = __ldcs(mode4 + i + u * stride);
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) {
        const float4 a = AddGroup(sums, r[u], m[u]);
        if (kOutput == AbsDiffOutput::kWrite) __stcs(abs4 + i + u * stride, a);
        if (kOutput == AbsDiffOutput::kCount) CountAbsDiffs(window, histogram, a);
      }
    }
    for (; i < n4; i += stride) {
      const float4 a = AddGroup(sums, __ldcs(ref4 + i), __ldcs(mode4 + i));
      if (kOutput == AbsDiffOutput::kWrite) __stcs(abs4 + i, a);
      if (kOutput == AbsDiffOutput::kCount) CountAbsDiffs(window, histogram, a);
    }
    // The n % 4 pairs past the last vector go to the first threads.
    i = n4 * 4 + static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  }
  for (; i < n; i += stride) {
    const float a = sums.Add(__ldcs(ref + i), __ldcs(mode + i));
    if (kOutput == AbsDiffOutput::kWrite) abs_diff[i] = a;
    if (kOutput == AbsDiffOutput::kCount) CountAbsDiff(window, histogram, a);
  }
  if (kOutput == AbsDiffOutput::kCount) {
    __syncthreads();
    for (uint32_t b = threadIdx.x; b < kWindowBuckets; b += kThreads) {
      if (window[b] != 0) atomicAdd(histogram.global + histogram.window_first + b, window[b]);
    }
  }
  const PairMoments mine = sums.Finish();
  const PairMoments block = BlockCombine(1, [&](int) { return mine; });

  // The last block to finish combines every block's result: thread t takes results t, t + kThreads, ..., then the
  // block's fixed trees. Which block is last changes from run to run; the order of the sums does not.
  __shared__ bool last;
  if (threadIdx.x == 0) {
    partials[blockIdx.x] = block;
    __threadfence();  // the result is visible to every block before the count says it is there
    last = atomicAdd(finished, 1u) == gridDim.x - 1;
  }
  __syncthreads();
  if (!last) return;
  const int mine_count = threadIdx.x < gridDim.x ? (gridDim.x - 1 - threadIdx.x) / kThreads + 1 : 0;
  const PairMoments all =
      BlockCombine(mine_count, [&](int j) { return LoadPartial(partials + threadIdx.x + j * kThreads); });
  if (threadIdx.x == 0) *result = all;
}

bool Aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

// ---- Radix select ----

constexpr int kPasses = 4;  // 8-bit digits, most significant first
constexpr int kBins = 256;

// What the digit-picking pass leaves for the next pass. Rank j's bucket is the values whose leading 8 (pass + 1)
// bits equal prefix[j]; remaining[j] is its rank within that bucket. Ranks with equal prefixes share a histogram
// slot: slot_of[j] indexes slot_prefix[0, slots).
struct SelectState {
  uint32_t prefix[kMaxOrderStatistics];
  unsigned long long remaining[kMaxOrderStatistics];
  int slot_of[kMaxOrderStatistics];
  uint32_t slot_prefix[kMaxOrderStatistics];
  int slots;
};

struct Workspace {
  unsigned long long histograms[kPasses][kMaxOrderStatistics][kBins];
  SelectState state;
};

struct Ranks {
  long long rank[kMaxOrderStatistics];
  int k;
};

// Adds `key` (slot * kBins + digit, or -1 for a value outside every bucket) to the block's histogram. In the first
// pass a warp's keys fall in a few bins (the exponents of |d| cluster): lanes with equal keys are combined first,
// since same-address shared atomics serialize. Later passes' digits are spread (mantissa bits), and matching them
// costs more than it saves.
__device__ void CountKey(unsigned* histogram, int key, bool aggregate) {
  if (!aggregate) {
    if (key >= 0) atomicAdd(&histogram[key], 1u);
    return;
  }
  const unsigned peers = __match_any_sync(kFullMask, key);
  if (key >= 0 && (threadIdx.x % 32) == __ffs(peers) - 1) atomicAdd(&histogram[key], __popc(peers));
}

__device__ int KeyOf(uint32_t bits, int pass, int slots, const uint32_t* slot_prefix) {
  const int digit = (bits >> (24 - 8 * pass)) & (kBins - 1);
  if (pass == 0) return digit;
  const uint32_t prefix = bits >> (32 - 8 * pass);
  int key = -1;
  for (int s = 0; s < slots; ++s) key = prefix == slot_prefix[s] ? s * kBins + digit : key;
  return key;
}

template <bool kVector>
__global__ void __launch_bounds__(kThreads)
    HistogramKernel(const uint32_t* __restrict__ bits, int64_t n, int pass, Workspace* ws) {
  __shared__ unsigned histogram[kMaxOrderStatistics * kBins];
  __shared__ uint32_t slot_prefix[kMaxOrderStatistics];
  const int slots = pass == 0 ? 1 : ws->state.slots;
  for (int i = threadIdx.x; i < slots * kBins; i += kThreads) histogram[i] = 0;
  if (pass > 0 && threadIdx.x < slots) slot_prefix[threadIdx.x] = ws->state.slot_prefix[threadIdx.x];
  __syncthreads();

  // Every lane of a warp runs the same number of iterations (CountKey needs the whole warp): the loop bound is
  // the warp's, and lanes past the end count nothing.
  const int64_t stride = static_cast<int64_t>(gridDim.x) * kThreads;
  const int64_t warp_first = static_cast<int64_t>(blockIdx.x) * kThreads + (threadIdx.x / 32) * 32;
  const int lane = threadIdx.x % 32;
  int64_t scalar_begin = 0;
  if (kVector) {
    const int64_t n4 = n / 4;
    const uint4* bits4 = reinterpret_cast<const uint4*>(bits);
    for (int64_t base = warp_first; base < n4; base += stride) {
      const int64_t i = base + lane;
      uint4 v = make_uint4(0, 0, 0, 0);
      if (i < n4) v = __ldcs(bits4 + i);
      const bool in = i < n4;
      CountKey(histogram, in ? KeyOf(v.x, pass, slots, slot_prefix) : -1, pass == 0);
      CountKey(histogram, in ? KeyOf(v.y, pass, slots, slot_prefix) : -1, pass == 0);
      CountKey(histogram, in ? KeyOf(v.z, pass, slots, slot_prefix) : -1, pass == 0);
      CountKey(histogram, in ? KeyOf(v.w, pass, slots, slot_prefix) : -1, pass == 0);
    }
    scalar_begin = n4 * 4;
  }
  for (int64_t base = scalar_begin + warp_first; base < n; base += stride) {
    const int64_t i = base + lane;
    CountKey(histogram, i < n ? KeyOf(__ldcs(bits + i), pass, slots, slot_prefix) : -1, pass == 0);
  }
  __syncthreads();
  // Integer sums: the global counts are the same whatever order the blocks add in.
  for (int i = threadIdx.x; i < slots * kBins; i += kThreads) {
    if (histogram[i] != 0) atomicAdd(&ws->histograms[pass][i / kBins][i % kBins], histogram[i]);
  }
}

// One block of kMaxOrderStatistics warps; warp j picks rank j's digit of this pass from its bucket's histogram.
__global__ void __launch_bounds__(kMaxOrderStatistics * 32)
    PickDigitKernel(int pass, Ranks ranks, Workspace* ws, float* values_out) {
  SelectState& state = ws->state;
  const int j = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (j < ranks.k) {
    const uint32_t prefix = pass == 0 ? 0 : state.prefix[j];
    const unsigned long long rank = pass == 0 ? static_cast<unsigned long long>(ranks.rank[j]) : state.remaining[j];
    const unsigned long long* histogram = ws->histograms[pass][pass == 0 ? 0 : state.slot_of[j]];
    // Each lane holds 8 consecutive bins; an inclusive scan of the lanes' totals finds the lane whose bins hold
    // the rank, and that lane walks its bins.
    unsigned long long counts[kBins / 32], total = 0;
#pragma unroll
    for (int b = 0; b < kBins / 32; ++b) total += counts[b] = histogram[lane * (kBins / 32) + b];
    unsigned long long inclusive = total;
#pragma unroll
    for (int offset = 1; offset < 32; offset *= 2) {
      const unsigned long long other = __shfl_up_sync(kFullMask, inclusive, offset);
      if (lane >= offset) inclusive += other;
    }
    const unsigned long long before = inclusive - total;
    const unsigned owner = __ballot_sync(kFullMask, before <= rank && rank < inclusive);
    if (lane == __ffs(owner) - 1) {
      unsigned long long below = before;
      int digit = lane * (kBins / 32);
#pragma unroll
      for (int b = 0; b < kBins / 32; ++b) {
        if (rank >= below + counts[b])
          below += counts[b], ++digit;
        else
          break;
      }
      const uint32_t value = (prefix << 8) | static_cast<uint32_t>(digit);
      state.prefix[j] = value;
      state.remaining[j] = rank - below;
      if (pass == kPasses - 1) values_out[j] = __uint_as_float(value);
    }
  }
  __syncthreads();
  // The next pass's slots: distinct prefixes in rank order.
  if (threadIdx.x == 0 && pass + 1 < kPasses) {
    int slots = 0;
    for (int r = 0; r < ranks.k; ++r) {
      int s = 0;
      while (s < slots && state.slot_prefix[s] != state.prefix[r]) ++s;
      if (s == slots) state.slot_prefix[slots++] = state.prefix[r];
      state.slot_of[r] = s;
    }
    state.slots = slots;
  }
}

// The current device's multiprocessor count, asked once per device (a runtime call per reduction costs host time
// that short reductions notice).
int MultiprocessorCount() {
  constexpr int kDevices = 64;
  static std::atomic<int> counts[kDevices] = {};
  int device = 0;
  Check(cudaGetDevice(&device), "cudaGetDevice");
  int count = device < kDevices ? counts[device].load(std::memory_order_relaxed) : 0;
  if (count == 0) {
    Check(cudaDeviceGetAttribute(&count, cudaDevAttrMultiProcessorCount, device), "multiprocessor count");
    if (device < kDevices) counts[device].store(count, std::memory_order_relaxed);
  }
  return count;
}

int ReduceBlocks(int64_t n) {
  const int sms = MultiprocessorCount();
  // Enough pairs per thread that the merge tree stays a small part of the work.
  const int64_t wanted = (n + kThreads * 64 - 1) / (kThreads * 64);
  return static_cast<int>(std::max<int64_t>(1, std::min<int64_t>({wanted, int64_t{sms} * kBlocksPerSm, kMaxBlocks})));
}

}  // namespace

// The workspace: the blocks' results, then the count of finished blocks.
size_t ReducePairsCudaWorkspaceBytes() { return kMaxBlocks * sizeof(PairMoments) + sizeof(unsigned); }

namespace {

// Lets the histogram kernels take kWindowBytes of dynamic shared memory, past the 48 KiB a launch gets without
// asking (two blocks' windows still fit a multiprocessor). Once per device, as MultiprocessorCount asks: not a
// runtime call per launch, nor one inside a stream capture after the first launch.
void AllowWindowSharedMemory() {
  constexpr int kDevices = 64;
  static std::atomic<bool> done[kDevices] = {};
  int device = 0;
  Check(cudaGetDevice(&device), "cudaGetDevice");
  if (device < kDevices && done[device].load(std::memory_order_relaxed)) return;
  for (const auto kernel :
       {ReducePairsKernel<true, AbsDiffOutput::kCount>, ReducePairsKernel<false, AbsDiffOutput::kCount>}) {
    Check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, kWindowBytes),
          "metrics histogram: shared memory");
  }
  if (device < kDevices) done[device].store(true, std::memory_order_relaxed);
}

// The one launch behind both entry points; abs_diff_device or histogram.global (not both) may be set.
void LaunchReducePairs(const float* ref_device, const float* mode_device, int64_t n, float* abs_diff_device,
                       HistogramTarget histogram, void* workspace_device, PairMoments* result_device, void* stream) {
  if (n < 0) throw std::invalid_argument("metrics reduction: negative size");
  const cudaStream_t s = static_cast<cudaStream_t>(stream);
  const int blocks = ReduceBlocks(n);
  auto* partials = static_cast<PairMoments*>(workspace_device);
  auto* finished = reinterpret_cast<unsigned*>(partials + kMaxBlocks);
  Check(cudaMemsetAsync(finished, 0, sizeof *finished, s), "metrics reduction: clear the block count");
  const bool vector =
      Aligned16(ref_device) && Aligned16(mode_device) && (abs_diff_device == nullptr || Aligned16(abs_diff_device));
  if (histogram.global != nullptr) {
    AllowWindowSharedMemory();
    (vector ? ReducePairsKernel<true, AbsDiffOutput::kCount>
            : ReducePairsKernel<false, AbsDiffOutput::kCount>)<<<blocks, kThreads, kWindowBytes, s>>>(
        ref_device, mode_device, n, nullptr, histogram, partials, finished, result_device);
  } else if (abs_diff_device != nullptr) {
    (vector ? ReducePairsKernel<true, AbsDiffOutput::kWrite>
            : ReducePairsKernel<false, AbsDiffOutput::kWrite>)<<<blocks, kThreads, 0, s>>>(
        ref_device, mode_device, n, abs_diff_device, histogram, partials, finished, result_device);
  } else {
    (vector ? ReducePairsKernel<true, AbsDiffOutput::kNone>
            : ReducePairsKernel<false, AbsDiffOutput::kNone>)<<<blocks, kThreads, 0, s>>>(
        ref_device, mode_device, n, nullptr, histogram, partials, finished, result_device);
  }
  Check(cudaGetLastError(), "metrics reduction launch");
}

// The first bucket of the window around `center`: its binade is the window's 12th of kAbsDiffWindowBinades (|d|
// below a bulk spreads over more binades than above it), moved to stay inside the buckets. A center that is not a
// positive finite value (no earlier batch) puts the window around 2^-8, a typical quantization error.
uint32_t WindowFirstBucket(float center) {
  if (!(center > 0 && center < 3.0e38f)) center = 1.0f / 256;
  const int binade = static_cast<int>((AbsDiffBucketOf(center) - 1) / kAbsDiffBucketsPerBinade);
  constexpr int kBinades = kAbsDiffMaxExponent - kAbsDiffMinExponent + 1;
  const int first = std::min(std::max(binade - (kAbsDiffWindowBinades - 5), 0), kBinades - kAbsDiffWindowBinades);
  return 1 + static_cast<uint32_t>(first) * kAbsDiffBucketsPerBinade;
}

}  // namespace

void ReducePairsCuda(const float* ref_device, const float* mode_device, int64_t n, float* abs_diff_device,
                     void* workspace_device, PairMoments* result_device, void* stream) {
  LaunchReducePairs(ref_device, mode_device, n, abs_diff_device, HistogramTarget{nullptr, 0}, workspace_device,
                    result_device, stream);
}

void ReducePairsToHistogramCuda(const float* ref_device, const float* mode_device, int64_t n,
                                uint64_t* histogram_device, float window_center, void* workspace_device,
                                PairMoments* result_device, void* stream) {
  static_assert(sizeof(uint64_t) == sizeof(unsigned long long), "atomicAdd counts unsigned long long");
  if (n >= (int64_t{1} << 32)) {
    throw std::invalid_argument("metrics histogram: " + std::to_string(n) + " pairs in one call (at most 2^32 - 1)");
  }
  const HistogramTarget histogram{reinterpret_cast<unsigned long long*>(histogram_device),
                                  WindowFirstBucket(window_center)};
  LaunchReducePairs(ref_device, mode_device, n, nullptr, histogram, workspace_device, result_device, stream);
}

size_t AbsDiffOrderStatisticsCudaWorkspaceBytes() { return sizeof(Workspace); }

void AbsDiffOrderStatisticsCuda(const float* values_device, int64_t n, const int64_t* ranks, int k,
                                float* values_out_device, void* workspace_device, void* stream) {
  if (k < 0 || k > kMaxOrderStatistics) {
    throw std::invalid_argument("order statistics: " + std::to_string(k) + " ranks (at most " +
                                std::to_string(kMaxOrderStatistics) + ")");
  }
  if (k == 0) return;
  Ranks r{};
  r.k = k;
  for (int i = 0; i < k; ++i) {
    if (ranks[i] < 0 || ranks[i] >= n) {
      throw std::invalid_argument("order statistics: rank " + std::to_string(ranks[i]) + " of " + std::to_string(n));
    }
    r.rank[i] = ranks[i];
  }
  const cudaStream_t s = static_cast<cudaStream_t>(stream);
  auto* ws = static_cast<Workspace*>(workspace_device);
  Check(cudaMemsetAsync(ws->histograms, 0, sizeof ws->histograms, s), "order statistics: clear histograms");
  const int sms = MultiprocessorCount();
  const int blocks = static_cast<int>(std::min<int64_t>(int64_t{sms} * 8, (n + kThreads * 16 - 1) / (kThreads * 16)));
  const auto* bits = reinterpret_cast<const uint32_t*>(values_device);
  for (int pass = 0; pass < kPasses; ++pass) {
    (Aligned16(bits) ? HistogramKernel<true> : HistogramKernel<false>)<<<blocks, kThreads, 0, s>>>(bits, n, pass, ws);
    Check(cudaGetLastError(), "order statistics: histogram launch");
    PickDigitKernel<<<1, kMaxOrderStatistics * 32, 0, s>>>(pass, r, ws, values_out_device);
    Check(cudaGetLastError(), "order statistics: digit launch");
  }
}

}  // namespace layerscope
