// CUDA selective scan, fp32. The recurrence is sequential in time but independent across (batch, channel, state),
// and the data is [B, L, E] with channels contiguous: so consecutive threads take consecutive channels of one batch
// (coalesced loads of u, delta, z and stores of y), each thread a channel's 16 states in registers (for d_state > 16,
// four threads share a channel), and the sequence is walked in tiles of kTile steps with the next tile's loads in
// flight: u, delta and z in registers, and B_t, C_t (the same for every channel of a batch) staged by the thread
// group into a shared double buffer (one coalesced load instead of a broadcast load per thread and state).
// When batch x channels give the device fewer than 3 warps per multiprocessor (one long sample), the sequence is
// also cut into 4 chunks scanned in parallel and joined by their carries (SelectiveScanKernel).
//
// What bounds it (bench/RESULTS.md, 2026-11-26, Nsight Compute on an H200): ~10 instructions per (b, t, e, n); at
// 100 x 512 it runs at ~50% of the copy bandwidth; at mamba-130m's 10 x 512 the 480 warps give each scheduler one
// warp, which issues every ~2.7 cycles (fixed-latency dependencies), and it stays near 25%.
//
// Arithmetic: as SelectiveScanCpu, in fp32, but for three differences, all within the GPU test's bound: the
// recurrence's exp(Δ·A) is 2^(Δ·(A·log2 e)) on the special-function unit (Exp2Approx) and the gate's exp is expf
// (within 2 ulp); fused multiply-adds (this file is compiled with contraction on); with four threads per channel,
// y's sum over states taken as 4 ascending partial sums added pairwise; with chunks, a chunk's start state composed
// from the earlier chunks' end states and decay products.
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

#include "kernels/selective_scan/selective_scan.h"

namespace layerscope {
namespace {

constexpr int kThreads = 128;
constexpr int kTile = 8;
constexpr unsigned kFullWarp = 0xffffffffu;
constexpr float kLog2e = 1.4426950408889634f;

// 2^x by the multiprocessor's special-function unit (one instruction; relative error below 2^-22, results below
// 2^-126 flushed to 0): the exp of the recurrence, exp(Δ·A) = 2^(Δ·(A·log2 e)), as mamba's own kernel computes it.
// The correctly rounded alternatives cost 4 (exp2f) to 9 (expf) instructions and left the kernel issue-bound.
__device__ inline float Exp2Approx(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
}

// A chunk's steps from a given start state: s ← 2^(Δ·A2)·s + Δ·u·B per step. With kOutput, y is written for each
// step; without, the product of the chunk's decays is kept in `decay` (the chunk's map is s ↦ decay·s + s_end).
// Loads run one tile ahead (registers for u, delta, z; the group's shared double buffer for B and C); steps past
// `end` read as u = Δ = 0, which leaves the state and the decay unchanged.
template <int kStates, int kSplit, int kGroup>
struct ChunkScan {
  static constexpr int kWidth = kStates * kSplit;            // the states a channel's threads cover; d_state ≤ kWidth
  static constexpr int kStagedPerTile = 2 * kTile * kWidth;  // B, then C, of one tile: [2][kTile][kWidth]
  static constexpr int kStagedPerThread = kStagedPerTile / kGroup;
  static_assert(kStagedPerTile % kGroup == 0, "each thread stages the same number of values");
  static_assert(kStates % 4 == 0, "a thread reads its states' B and C four at a time");
  static_assert(kGroup == 32 || kGroup == kThreads, "a chunk's threads are one warp or the whole block");

  const SelectiveScanArgs& a;
  int64_t b, e;
  bool owns;
  int part, group_thread;
  float (&staged)[2][kStagedPerTile];

  static __device__ void GroupSync() {
    if constexpr (kGroup == 32) {
      __syncwarp();
    } else {
      __syncthreads();
    }
  }

  template <bool kOutput>
  __device__ void Run(int64_t begin, int64_t end, const float (&A2)[kStates], float D, float (&s)[kStates],
                      float (&decay)[kStates]) const {
    const int64_t E = a.channels, N = a.state, L = a.seqlen;
    auto load_steps = [&](int64_t t0, float(&u)[kTile], float(&delta)[kTile], float(&z)[kTile]) {
#pragma unroll
      for (int k = 0; k < kTile; ++k) {
        const int64_t i = (b * L + t0 + k) * E + e;
        const bool in = owns && t0 + k < end;
        u[k] = in ? a.u[i] : 0.0f;
        delta[k] = in ? a.delta[i] : 0.0f;
        z[k] = in && kOutput ? a.z[i] : 0.0f;
      }
    };
    auto load_staged = [&](int64_t t0, float(&values)[kStagedPerThread]) {
#pragma unroll
      for (int j = 0; j < kStagedPerThread; ++j) {
        const int x = group_thread + j * kGroup;
        const int which = x / (kTile * kWidth), k = x / kWidth % kTile, n = x % kWidth;
        const float* from = which == 0 ? a.B : a.C;
        const bool needed = which == 0 || kOutput;  // C only where y is computed
        values[j] = needed && t0 + k < end && n < N ? from[(b * L + t0 + k) * N + n] : 0.0f;
      }
    };
    auto store_staged = [&](int buffer, const float(&values)[kStagedPerThread]) {
#pragma unroll
      for (int j = 0; j < kStagedPerThread; ++j) staged[buffer][group_thread + j * kGroup] = values[j];
    };

    if (begin >= end) return;
    float u[kTile], delta[kTile], z[kTile], next_u[kTile], next_delta[kTile], next_z[kTile];
    float next_staged[kStagedPerThread];
    load_steps(begin, u, delta, z);
    load_staged(begin, next_staged);
    store_staged(0, next_staged);
    GroupSync();
    int buffer = 0;
    for (int64_t t0 = begin; t0 < end; t0 += kTile) {
      const bool more = t0 + kTile < end;  // the same for the whole group
      if (more) {
        load_steps(t0 + kTile, next_u, next_delta, next_z);
        load_staged(t0 + kTile, next_staged);
      }
      const float4* Bt = reinterpret_cast<const float4*>(staged[buffer] + part * kStates);
      const float4* Ct = reinterpret_cast<const float4*>(staged[buffer] + kTile * kWidth + part * kStates);
#pragma unroll
      for (int k = 0; k < kTile; ++k) {
        const float du = delta[k] * u[k];
        float acc = 0.0f;
#pragma unroll
        for (int m4 = 0; m4 < kStates / 4; ++m4) {
          const float4 B4 = Bt[(k * kWidth) / 4 + m4];
          const float B[4] = {B4.x, B4.y, B4.z, B4.w};
#pragma unroll
          for (int j = 0; j < 4; ++j) {
            const int m = 4 * m4 + j;
            const float dA = Exp2Approx(delta[k] * A2[m]);
            s[m] = dA * s[m] + du * B[j];
            if constexpr (!kOutput) decay[m] *= dA;
          }
          if constexpr (kOutput) {
            const float4 C4 = Ct[(k * kWidth) / 4 + m4];
            const float C[4] = {C4.x, C4.y, C4.z, C4.w};
#pragma unroll
            for (int j = 0; j < 4; ++j) acc += s[4 * m4 + j] * C[j];
          }
        }
        if constexpr (kOutput) {
#pragma unroll
          for (int offset = 1; offset < kSplit; offset *= 2) acc += __shfl_xor_sync(kFullWarp, acc, offset);
          if (owns && part == 0 && t0 + k < end) {
            const float out = acc + D * u[k];
            a.y[(b * L + t0 + k) * E + e] = out * (z[k] / (1.0f + expf(-z[k])));
          }
        }
      }
      if (more) {
        store_staged(buffer ^ 1, next_staged);
#pragma unroll
        for (int k = 0; k < kTile; ++k) u[k] = next_u[k], delta[k] = next_delta[k], z[k] = next_z[k];
      }
      // The next tile's B and C are in place, and this tile's are read, before either buffer is written again.
      GroupSync();
      buffer ^= 1;
    }
  }
};

// A block's channels: each chunk's kThreads / kChunks threads, kSplit per channel.
__host__ __device__ constexpr int ChannelsPerBlock(int split, int chunks) { return kThreads / chunks / split; }

// kChunks > 1 cuts the sequence into chunks of `chunk_steps`, one warp each: each warp but the last first scans its
// chunk from a zero state, keeping the chunk's end state and decay product; after a barrier each warp composes the
// earlier chunks' maps in order into its start state, then scans its chunk again, writing y. Twice the arithmetic
// for kChunks times the warps: what a device short of channels needs.
// Register budget: 4 blocks per multiprocessor (128 registers; without the bound the compiler hoists a whole tile's
// B and C into ~200 and only 2 blocks fit); the 64-state variant keeps 2: at 3 (170) it spills.
template <int kStates, int kSplit, int kChunks>
__global__ void __launch_bounds__(kThreads, kSplit == 4 ? 2 : 4)
    SelectiveScanKernel(SelectiveScanArgs a, int64_t channel_blocks, int64_t chunk_steps) {
  constexpr int kGroup = kThreads / kChunks;
  constexpr int kChannels = ChannelsPerBlock(kSplit, kChunks);
  using Scan = ChunkScan<kStates, kSplit, kGroup>;
  __shared__ __align__(16) float staged[kChunks][2][Scan::kStagedPerTile];
  // The end state and decay product of each chunk but the last, per state and channel thread.
  constexpr int kCarried = kChunks > 1 ? kChunks - 1 : 1;
  __shared__ float chunk_end[kCarried][kStates][kGroup], chunk_decay[kCarried][kStates][kGroup];
  const int64_t E = a.channels, N = a.state, L = a.seqlen;
  const int chunk = threadIdx.x / kGroup, group_thread = threadIdx.x % kGroup;
  const int64_t b = blockIdx.x / channel_blocks;
  const int64_t e = blockIdx.x % channel_blocks * kChannels + group_thread / kSplit;
  const int part = group_thread % kSplit;
  // Threads past the last channel run along with zero inputs: they stage B and C and meet every barrier and shuffle.
  const bool owns = e < E;
  const Scan scan{a, b, e, owns, part, group_thread, staged[chunk]};

  // A2 = A·log2 e. Padded states (n ≥ N) have A = 0 and B = C = 0: their state stays 0 and adds exactly 0 to y.
  float A2[kStates], s[kStates], decay[kStates];
#pragma unroll
  for (int m = 0; m < kStates; ++m) {
    const int64_t n = part * kStates + m;
    A2[m] = owns && n < N ? a.A[e * N + n] * kLog2e : 0.0f;
    s[m] = 0.0f;
    decay[m] = 1.0f;
  }
  const float D = owns ? a.D[e] : 0.0f;
  const int64_t begin = chunk * chunk_steps, end = begin + chunk_steps < L ? begin + chunk_steps : L;
  if constexpr (kChunks > 1) {
    if (chunk < kChunks - 1) {
      scan.template Run<false>(begin, end, A2, D, s, decay);
#pragma unroll
      for (int m = 0; m < kStates; ++m) {
        chunk_end[chunk][m][group_thread] = s[m];
        chunk_decay[chunk][m][group_thread] = decay[m];
      }
    }
    __syncthreads();
#pragma unroll
    for (int m = 0; m < kStates; ++m) {
      s[m] = 0.0f;
      for (int c = 0; c < chunk; ++c) s[m] = chunk_decay[c][m][group_thread] * s[m] + chunk_end[c][m][group_thread];
    }
  }
  scan.template Run<true>(begin, end, A2, D, s, decay);
}

template <int kStates, int kSplit, int kChunks>
void Launch(const SelectiveScanArgs& a, cudaStream_t stream) {
  constexpr int kChannels = ChannelsPerBlock(kSplit, kChunks);
  const int64_t channel_blocks = (a.channels + kChannels - 1) / kChannels;
  const int64_t blocks = a.batch * channel_blocks;
  if (blocks > 0x7fffffff) throw std::invalid_argument("selective scan: too many (batch, channel) blocks");
  // Chunks of whole tiles; trailing chunks of a short sequence may be empty.
  const int64_t chunk_steps = ((a.seqlen + kChunks - 1) / kChunks + kTile - 1) / kTile * kTile;
  SelectiveScanKernel<kStates, kSplit, kChunks>
      <<<static_cast<unsigned>(blocks), kThreads, 0, stream>>>(a, channel_blocks, chunk_steps);
}

}  // namespace

void SelectiveScanCuda(const SelectiveScanArgs& args, void* stream) {
  if (args.state > kSelectiveScanMaxState) {
    throw std::invalid_argument("selective scan: d_state " + std::to_string(args.state) + " exceeds " +
                                std::to_string(kSelectiveScanMaxState));
  }
  if (args.batch == 0 || args.seqlen == 0 || args.channels == 0) return;
  cudaStream_t s = static_cast<cudaStream_t>(stream);
  int device = 0, multiprocessors = 0;
  if (cudaGetDevice(&device) != cudaSuccess ||
      cudaDeviceGetAttribute(&multiprocessors, cudaDevAttrMultiProcessorCount, device) != cudaSuccess) {
    throw std::runtime_error("selective scan: cannot query the device");
  }
  // Chunks cost ~1.4-1.6x the instructions for 4x the warps: they pay below ~3 warps per multiprocessor (one
  // 2048-token sample: 0.4, 1.75x faster), not at mamba-130m's 10 samples (3.6, 3% slower).
  const bool few_channels = args.batch * args.channels < int64_t{3} * 32 * multiprocessors;
  if (args.state > 16) {
    Launch<kSelectiveScanMaxState / 4, 4, 1>(args, s);
  } else if (few_channels) {
    Launch<16, 1, 4>(args, s);
  } else {
    Launch<16, 1, 1>(args, s);
  }
  const cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) throw std::runtime_error(std::string("selective scan launch: ") + cudaGetErrorString(err));
}

}  // namespace layerscope
