// CUDA kernels of the selective-scan arithmetic variants (quant_scan.h), bit-identical to the CPU references:
// the same per-element functions (quant_scan.h, fp32_math.h), the same fp32 operation order, and no contraction
// into fused multiply-adds (this file is compiled with -fmad=false; the explicit fmaf calls stay).
//
// All three are bound by instruction issue and latency, not memory: every (b, t, e, n) needs a correctly rounded
// exp (fp32_math.h: ~50 instructions with its fp64 arithmetic and conversions), 126M of them at the mamba-130m
// shape. Nsight Compute on an H200 (bench/RESULTS.md, 2026-11-26) counts ~117 executed instructions per
// (b, t, e, n) at 1.7 instructions per cycle per multiprocessor and 2-3% DRAM throughput. Memory bandwidth would
// allow ~13 instructions per element. So the kernels keep many independent exps in flight (many threads per row,
// a slice's exps issued before the recurrence that needs them), compute each per-step value (softplus, gate) once
// per (row, t) as the references do, and add y's per-state terms on one thread in the references' order.
// framework / reference: a half-warp per (batch, channel) row, a lane per state (QuantScanSequential).
// kernel: the documented chunk tree, a thread per tree thread, on only as many warps per row as the row's steps
// occupy (QuantScanChunked).
// With dt's codes (kTabled) the scans read Δ and the decays from the tables (quant_scan.h) that BuildTables fills
// first, a block per channel: ~1 correctly rounded exp per (b, t, e) is left (the gate's), and the table loads hit
// the caches (a channel's decays are 256·N floats).
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <stdexcept>
#include <string>

#include "kernels/selective_scan/quant_scan.h"

namespace layerscope {
namespace {

void CheckLaunch(const char* what) {
  const cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) throw std::runtime_error(std::string(what) + " launch: " + cudaGetErrorString(err));
}

void CheckState(const QuantScanArgs& a) {
  if (a.state > kQuantScanMaxState) {
    throw std::invalid_argument("quantized scan: d_state " + std::to_string(a.state) + " exceeds " +
                                std::to_string(kQuantScanMaxState));
  }
}

bool IsEmpty(const QuantScanArgs& a) { return a.batch == 0 || a.seqlen == 0 || a.channels == 0; }

void CheckTables(const QuantScanArgs& a) {
  if (a.dt_q != nullptr && (a.delta_table == nullptr || a.decay_table == nullptr)) {
    throw std::invalid_argument("quantized scan: dt_q given without its tables");
  }
}

// Tables: a block per channel, a thread per code. Each thread computes its code's Δ; then the block computes the
// channel's 256·N decays in their layout order, so that consecutive threads write consecutive floats.
constexpr int kTableThreads = static_cast<int>(kQuantScanCodes);

template <typename Tables>
__global__ void __launch_bounds__(kTableThreads) BuildTables(QuantScanArgs a) {
  __shared__ float deltas[kQuantScanCodes];
  const int64_t e = blockIdx.x;
  const int c = threadIdx.x;
  deltas[c] = Tables::Delta(a, e, c);
  a.delta_table[e * kQuantScanCodes + c] = deltas[c];
  __syncthreads();
  const int block = static_cast<int>(kQuantScanCodes * a.state);
  for (int x = threadIdx.x; x < block; x += kTableThreads)
    a.decay_table[e * block + x] = Tables::Decay(a, e, x, deltas);
}

template <typename Tables>
void LaunchTables(const QuantScanArgs& a, void* stream) {
  if (a.channels == 0) return;
  if (a.delta_table == nullptr || a.decay_table == nullptr) {
    throw std::invalid_argument("quantized scan tables: no table to fill");
  }
  if (a.channels > 0x7fffffff) throw std::invalid_argument("quantized scan: too many channels");
  BuildTables<Tables><<<static_cast<unsigned>(a.channels), kTableThreads, 0, static_cast<cudaStream_t>(stream)>>>(a);
  CheckLaunch("quantized scan tables");
}

// framework / reference: the row's states spread over the kRowLanes lanes of a half-warp, lane l owning states
// n ≡ l (mod kRowLanes); two rows per warp. Time runs in slices of kRowLanes steps. Per slice, lane l first computes
// the per-step values of step t0 + l (Δ, Δ·u, the gate: one softplus and one exp per (row, t), as in the
// reference), which the states' lanes then take by shuffle. Each lane loads B and C and computes exp(Δ·A[n]) for
// kStepGroup steps at once (4 ran faster than 8 or 16, whose registers cost occupancy), then updates its h[n] step
// by step and leaves h[n]·C_t[n] in the slice's tile; then lane l adds step t0 + l's products for n ascending from
// 0, exactly the reference's acc += h[n]·C_t[n], and writes y. Rows are independent, so the half-warps never wait
// for each other.
// kTabled: the per-step values take Δ from the table and the states' lanes read the decays of the step's code,
// a code's N decays adjacent (one 64-byte segment per 16 states).
constexpr int kRowLanes = 16;
constexpr int kSequentialThreads = 128;
constexpr int kStepGroup = 4;

template <int kStatesPerLane, bool kReference, bool kTabled>
__global__ void __launch_bounds__(kSequentialThreads) QuantScanSequential(QuantScanArgs a) {
  constexpr int kStates = kRowLanes * kStatesPerLane;
  // One more column than states: lane l reads row l of the tile, and the odd stride puts the 16 rows in 16 banks.
  constexpr int kTileStride = kStates + 1;
  __shared__ float tiles[kSequentialThreads / kRowLanes][kRowLanes][kTileStride];
  const int64_t E = a.channels, N = a.state, L = a.seqlen;
  const int64_t row = (blockIdx.x * static_cast<int64_t>(kSequentialThreads) + threadIdx.x) / kRowLanes;
  if (row >= a.batch * E) return;  // whole half-warps: their shuffles name only their own lanes
  const int lane = threadIdx.x % kRowLanes;
  const unsigned mask = 0xffffu << (threadIdx.x % 32 / kRowLanes * kRowLanes);
  float(&tile)[kRowLanes][kTileStride] = tiles[threadIdx.x / kRowLanes];
  const int64_t b = row / E, e = row % E;
  float A[kStatesPerLane];
  float h[kStatesPerLane];
#pragma unroll
  for (int m = 0; m < kStatesPerLane; ++m) {
    const int64_t n = lane + kRowLanes * m;
    A[m] = n < N ? a.A[e * N + n] : 0.0f;
    h[m] = 0.0f;
  }
  const float bias = a.dt_bias[e], D = a.D[e];
  const float* channel_decays = kTabled ? a.decay_table + e * kQuantScanCodes * N : nullptr;
  for (int64_t t0 = 0; t0 < L; t0 += kRowLanes) {
    const int64_t own_t = t0 + lane;  // the step whose per-step values and y this lane computes
    const int64_t own_i = (b * L + own_t) * E + e;
    float own_u = 0.0f, own_delta = 0.0f, own_delta_u = 0.0f, own_gate = 0.0f;
    int own_code = 0;
    if (own_t < L) {
      own_u = a.u[own_i];
      if constexpr (kTabled) {
        own_code = QuantScanCodeIndex(a, own_i);
        own_delta = a.delta_table[e * kQuantScanCodes + own_code];
      } else {
        own_delta = SoftplusFrameworkVariant(a.dt_raw[own_i] + bias);
      }
      own_delta_u = own_delta * own_u;
      const float z = a.z[own_i];
      own_gate = z / (1.0f + Fp32Exp(-z));
    }
    const int steps = static_cast<int>(L - t0 < kRowLanes ? L - t0 : kRowLanes);
    // The slice's per-step values, by shuffle, all before the recurrence: framework: Δu·B_t[n];
    // reference: (Δ·B_t[n])·u.
    float delta[kRowLanes], scale[kRowLanes];
    int code[kRowLanes];  // kTabled
#pragma unroll
    for (int s = 0; s < kRowLanes; ++s) {
      delta[s] = __shfl_sync(mask, own_delta, s, kRowLanes);
      scale[s] = __shfl_sync(mask, kReference ? own_u : own_delta_u, s, kRowLanes);
      if constexpr (kTabled) code[s] = __shfl_sync(mask, own_code, s, kRowLanes);
    }
#pragma unroll
    for (int m = 0; m < kStatesPerLane; ++m) {
      const int64_t n = lane + kRowLanes * m;
      if (n >= N) continue;
        // Every load and exp of the slice is independent of the state: issued together, their latencies overlap,
        // and only the multiply-add chain through h[m] is sequential.
#pragma unroll
      for (int s0 = 0; s0 < kRowLanes; s0 += kStepGroup) {
        float dA[kStepGroup], dBu[kStepGroup], c[kStepGroup];
#pragma unroll
        for (int g = 0; g < kStepGroup; ++g) {
          const int s = s0 + g;
          if (s < steps) {
            const int64_t bn = (b * L + t0 + s) * N + n;
            const float Bt = a.B[bn];
            c[g] = a.C[bn];
            if constexpr (kTabled) {
              dA[g] = __ldg(channel_decays + code[s] * N + n);
            } else {
              dA[g] = Fp32Exp(delta[s] * A[m]);
            }
            dBu[g] = kReference ? (delta[s] * Bt) * scale[s] : scale[s] * Bt;
          }
        }
#pragma unroll
        for (int g = 0; g < kStepGroup; ++g) {
          const int s = s0 + g;
          if (s < steps) {
            h[m] = dA[g] * h[m] + dBu[g];
            tile[s][n] = h[m] * c[g];
          }
        }
      }
    }
    __syncwarp(mask);
    if (own_t < L) {
      float acc = 0.0f;
      for (int64_t n = 0; n < N; ++n) acc += tile[lane][n];
      const float y = acc + own_u * D;
      a.y[own_i] = y * own_gate;
    }
    __syncwarp(mask);  // the tile is read before the next slice overwrites it
  }
  if (a.last_state != nullptr) {
#pragma unroll
    for (int m = 0; m < kStatesPerLane; ++m) {
      const int64_t n = lane + kRowLanes * m;
      if (n < N) a.last_state[row * N + n] = h[m];
    }
  }
}

template <bool kReference, bool kTabled>
void LaunchSequentialAs(const QuantScanArgs& a, void* stream) {
  constexpr int kRowsPerBlock = kSequentialThreads / kRowLanes;
  const int64_t blocks = (a.batch * a.channels + kRowsPerBlock - 1) / kRowsPerBlock;
  if (blocks > 0x7fffffff) throw std::invalid_argument("quantized scan: too many (batch, channel) rows");
  cudaStream_t s = static_cast<cudaStream_t>(stream);
  if (a.state <= kRowLanes) {
    QuantScanSequential<1, kReference, kTabled><<<static_cast<unsigned>(blocks), kSequentialThreads, 0, s>>>(a);
  } else {
    QuantScanSequential<kQuantScanMaxState / kRowLanes, kReference, kTabled>
        <<<static_cast<unsigned>(blocks), kSequentialThreads, 0, s>>>(a);
  }
  CheckLaunch("quantized scan");
}

template <bool kReference>
void LaunchSequential(const QuantScanArgs& a, void* stream) {
  CheckState(a);
  CheckTables(a);
  if (IsEmpty(a)) return;
  a.dt_q != nullptr ? LaunchSequentialAs<kReference, true>(a, stream)
                    : LaunchSequentialAs<kReference, false>(a, stream);
}

constexpr int kThreads = static_cast<int>(kQuantScanThreads);
constexpr int kItems = static_cast<int>(kQuantScanItems);
constexpr unsigned kFullWarp = 0xffffffffu;

// The kernel variant. Each row's tree runs on kTreeWarps warps (thread j of the tree = the row's j-th thread), as
// many as the row's active tree threads need: 1 for L ≤ 512, 2 for L ≤ 1024, else the whole tree (4). With fewer
// than 4 warps the row is one chunk, and the tree's outputs that are used — the prefixes x[j − 1] of active threads
// j — come from the inputs x[0..j] and the rounds with offset ≤ j only, so the rounds and threads beyond the
// warps change none of them (nor does the carry, which a single chunk never moves on).
// A block holds kThreads / (32 · kTreeWarps) rows: consecutive channels of one batch, which read the same B and C.
// Thread j reads B_t[n] and C_t[n] for its 16 consecutive steps, 16 steps apart from its neighbours': straight from
// global memory every lane would touch its own cache line. So the block first copies the chunk's B and C for
// kStagedStates states at once (adjacent floats of each step) into shared memory, laid out so that those reads
// are free of bank conflicts.
// kTabled: each step keeps dt's code instead of Δ, and the items take their decay from the code's entry in the
// state's row of 256 (1 KiB, in the caches after the first chunk's reads).
template <int kTreeWarps, bool kTabled>
__global__ void __launch_bounds__(kThreads, 6) QuantScanChunked(QuantScanArgs a) {
  constexpr int kTreeSize = 32 * kTreeWarps;
  constexpr int kRowsPerBlock = kThreads / kTreeSize;
  constexpr bool kManyChunks = kTreeSize == kThreads;
  constexpr int kSteps = kTreeSize * kItems;  // the steps of a chunk that the block's trees cover
  constexpr int kStagedStates = 4 / kTreeWarps;
  // Step s of the chunk sits at s + s / kItems: thread j's 16 steps start at 17·j, 32 consecutive j in 32 banks.
  // The extra 8 columns put the kStagedStates rows 8 banks apart for the copy.
  constexpr int kStageStride = kSteps + kTreeSize + 8;
  __shared__ QuantScanPair tree[2][kThreads];  // thread x's entry is tree[·][x]: rows occupy consecutive slices
  __shared__ QuantScanPair carry[kRowsPerBlock][kQuantScanMaxState];
  // Per step of the thread: Δ, Δu and y's accumulator. Only the thread itself touches its column; in shared memory
  // rather than registers, so that more rows fit on a multiprocessor to hide the latency of the fp64 exp2.
  // Δ (for the decays) or, kTabled, the code (the decays' index): only the one in use has its kItems rows.
  __shared__ float delta_u[kItems][kThreads], out[kItems][kThreads];
  __shared__ float delta[kTabled ? 1 : kItems][kThreads];
  __shared__ unsigned char code[kTabled ? kItems : 1][kThreads];
  __shared__ float staged_B[kStagedStates][kStageStride], staged_C[kStagedStates][kStageStride];
  const int64_t E = a.channels, N = a.state, L = a.seqlen;
  const int64_t channel_blocks = (E + kRowsPerBlock - 1) / kRowsPerBlock;
  const int block_row = threadIdx.x / kTreeSize;
  const int64_t b = blockIdx.x / channel_blocks;
  const int64_t block_e = blockIdx.x % channel_blocks * kRowsPerBlock + block_row;
  // Rows past the last channel run the last channel's numbers along, to keep __syncthreads whole; never stored.
  const bool stores = block_e < E;
  const int64_t e = stores ? block_e : E - 1, row = b * E + e;
  const int j = threadIdx.x % kTreeSize;
  const int slot = j * (kItems + 1);  // thread j's first step in the staged rows
  if constexpr (kManyChunks) {
    for (int64_t n = j; n < N; n += kTreeSize) carry[block_row][n] = QuantScanPair{1.0f, 0.0f};
  }
  const float bias = a.dt_bias[e], D = a.D[e];
  for (int64_t t0 = 0; t0 < L; t0 += kQuantScanChunk) {
    const int64_t first = t0 + static_cast<int64_t>(j) * kItems;  // this thread's first step
    const bool active = first < L;
#pragma unroll
    for (int k = 0; k < kItems; ++k) {
      const int64_t t = first + k;
      if (t < L) {
        const int64_t i = (b * L + t) * E + e;
        float step_delta;
        if constexpr (kTabled) {
          const int c = QuantScanCodeIndex(a, i);
          code[k][threadIdx.x] = static_cast<unsigned char>(c);
          step_delta = a.delta_table[e * kQuantScanCodes + c];
        } else {
          step_delta = SoftplusKernelVariant(a.dt_raw[i] + bias);
          delta[k][threadIdx.x] = step_delta;
        }
        delta_u[k][threadIdx.x] = step_delta * a.u[i];
        out[k][threadIdx.x] = D * a.u[i];
      }
    }
    const int64_t chunk_steps = L - t0 < kSteps ? L - t0 : kSteps;
    for (int64_t n0 = 0; n0 < N; n0 += kStagedStates) {
      __syncthreads();  // the previous states' staged values are read
      for (int64_t x = threadIdx.x; x < chunk_steps * kStagedStates; x += kThreads) {
        const int64_t s = x / kStagedStates, g = x % kStagedStates;
        if (n0 + g < N) {
          const int64_t from = (b * L + t0 + s) * N + n0 + g;
          staged_B[g][s + s / kItems] = a.B[from];
          staged_C[g][s + s / kItems] = a.C[from];
        }
      }
      __syncthreads();
      for (int g = 0; g < kStagedStates && n0 + g < N; ++g) {
        const int64_t n = n0 + g;
        const float A2 = a.A[e * N + n] * kQuantScanLog2e;
        const float* decays = kTabled ? a.decay_table + (e * N + n) * kQuantScanCodes : nullptr;
        auto decay = [&](int k) {
          if constexpr (kTabled) {
            return __ldg(decays + code[k][threadIdx.x]);
          } else {
            return Fp32Exp2(delta[k][threadIdx.x] * A2);
          }
        };
        QuantScanPair items[kItems];
#pragma unroll
        for (int k = 0; k < kItems; ++k) {
          items[k] = first + k < L ? QuantScanPair{decay(k), staged_B[g][slot + k] * delta_u[k][threadIdx.x]}
                                   : QuantScanPair{1.0f, 0.0f};
        }
        QuantScanPair x{1.0f, 0.0f};  // the aggregate, then its inclusive scan
        if (active) {
          x = items[0];
#pragma unroll
          for (int k = 1; k < kItems; ++k) x = CombineScanPairs(x, items[k]);
        }
        // Hillis–Steele: x[j] ← x[j − offset] ∘ x[j] for j ≥ offset; then left = x[j − 1] (used for j ≥ 1 only).
        QuantScanPair left;
        QuantScanPair total{1.0f, 0.0f};  // x[127] after the scan, for the carry
        if constexpr (kTreeWarps == 1) {
#pragma unroll
          for (int offset = 1; offset < kTreeSize; offset *= 2) {
            const QuantScanPair from{__shfl_up_sync(kFullWarp, x.a, offset), __shfl_up_sync(kFullWarp, x.b, offset)};
            if (j >= offset) x = CombineScanPairs(from, x);
          }
          left = QuantScanPair{__shfl_up_sync(kFullWarp, x.a, 1), __shfl_up_sync(kFullWarp, x.b, 1)};
        } else {
          tree[0][threadIdx.x] = x;
          __syncthreads();
          int src = 0;
#pragma unroll
          for (int offset = 1; offset < kTreeSize; offset *= 2) {
            if (j >= offset) x = CombineScanPairs(tree[src][threadIdx.x - offset], x);
            tree[1 - src][threadIdx.x] = x;
            __syncthreads();
            src = 1 - src;
          }
          left = tree[src][threadIdx.x - (j > 0 ? 1 : 0)];
          if constexpr (kManyChunks) total = tree[src][kThreads - 1];
        }
        const QuantScanPair row_carry = kManyChunks ? carry[block_row][n] : QuantScanPair{1.0f, 0.0f};
        if (active) {
          QuantScanPair prefix = j == 0 ? row_carry : CombineScanPairs(row_carry, left);
#pragma unroll
          for (int k = 0; k < kItems; ++k) {
            const int64_t t = first + k;
            prefix = CombineScanPairs(prefix, items[k]);
            if (t < L) {
              out[k][threadIdx.x] = ::fmaf(prefix.b, staged_C[g][slot + k], out[k][threadIdx.x]);
              if (t == L - 1 && a.last_state != nullptr && stores) a.last_state[row * N + n] = prefix.b;
            }
          }
        }
        if constexpr (kManyChunks) {
          // Everyone has read carry[n] and the tree before thread 0 moves the carry on and the next state's
          // aggregates overwrite tree[0].
          __syncthreads();
          if (j == 0) carry[block_row][n] = CombineScanPairs(row_carry, total);
        } else if constexpr (kTreeWarps > 1) {
          __syncthreads();  // the tree is read before the next state's aggregates overwrite tree[0]
        }
      }
    }
    if (!stores) continue;
#pragma unroll
    for (int k = 0; k < kItems; ++k) {
      const int64_t t = first + k;
      if (t < L) {
        const int64_t i = (b * L + t) * E + e;
        const float z = a.z[i];
        const float gated = out[k][threadIdx.x] * (z / (1.0f + QuantScanFastExp(-z)));
        a.y[i] = __half2float(__float2half_rn(gated));
      }
    }
  }
}

template <bool kTabled>
void LaunchChunked(const QuantScanArgs& a, void* stream) {
  // Tree threads with a step: L / kItems rounded up, at most the whole tree.
  const int64_t tree_threads = std::min<int64_t>((a.seqlen + kItems - 1) / kItems, kThreads);
  const int tree_warps = tree_threads <= 32 ? 1 : tree_threads <= 64 ? 2 : 4;
  const int64_t rows_per_block = kThreads / (32 * tree_warps);
  const int64_t blocks = a.batch * ((a.channels + rows_per_block - 1) / rows_per_block);
  if (blocks > 0x7fffffff) throw std::invalid_argument("quantized scan: too many (batch, channel) rows");
  const dim3 grid(static_cast<unsigned>(blocks));
  cudaStream_t s = static_cast<cudaStream_t>(stream);
  if (tree_warps == 1) {
    QuantScanChunked<1, kTabled><<<grid, kThreads, 0, s>>>(a);
  } else if (tree_warps == 2) {
    QuantScanChunked<2, kTabled><<<grid, kThreads, 0, s>>>(a);
  } else {
    QuantScanChunked<4, kTabled><<<grid, kThreads, 0, s>>>(a);
  }
  CheckLaunch("quantized scan");
}

}  // namespace

void QuantScanKernelCuda(const QuantScanArgs& a, void* stream) {
  CheckState(a);
  CheckTables(a);
  if (IsEmpty(a)) return;
  a.dt_q != nullptr ? LaunchChunked<true>(a, stream) : LaunchChunked<false>(a, stream);
}

void QuantScanFrameworkCuda(const QuantScanArgs& a, void* stream) { LaunchSequential<false>(a, stream); }

void QuantScanReferenceCuda(const QuantScanArgs& a, void* stream) { LaunchSequential<true>(a, stream); }

void QuantScanKernelTablesCuda(const QuantScanArgs& a, void* stream) { LaunchTables<QuantScanKernelTables>(a, stream); }

void QuantScanFrameworkTablesCuda(const QuantScanArgs& a, void* stream) {
  LaunchTables<QuantScanFrameworkTables>(a, stream);
}

}  // namespace layerscope
