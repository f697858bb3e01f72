// The selective-scan arithmetic variants of the quantized modes (../shared/docs/MODES.md §3 "SSM arithmetic"):
// the same recurrence as SelectiveScan (§1 step 6), with dt's bias and softplus inside, computed three ways that
// differ only in rounding. The CPU references and the CUDA kernels of the variants share the per-element
// arithmetic below and follow the same fp32 operation order, so they agree bit for bit.
//
// exp, exp2 and log1p are Fp32Exp, Fp32Exp2 and Fp32Log1p (kernels/common/fp32_math.h): correctly rounded fp32
// (but for a stated, vanishingly rare exception) and the same bits on the host and the device.
// Common: Δ = softplus(dt_raw + dt_bias) with threshold 20 (Δ = v for v > 20); state h[n] = 0 at t = 0.
//
// kernel (what the research's CUDA kernel computes; its fast-math exp written out as exp2):
//   fexp(x) = exp2(x · fp32(log2 e)) — __expf's formula, with a correctly rounded exp2.
//   Δ = log1p(fexp(v)) for v ≤ 20;  Δu = Δ·u;  A2[n] = A[n]·fp32(log2 e).
//   Per state n, the pairs (a_t, b_t) = (exp2(Δ_t·A2[n]), B_t[n]·Δu_t) are scanned with the associative operator
//   (a0, b0) ∘ (a1, b1) = (a1·a0, fmaf(a1, b0, b1)) in a fixed tree:
//     time is cut into chunks of kQuantScanChunk = 2048 steps = kQuantScanThreads (128) "threads" ×
//     kQuantScanItems (16) consecutive steps (steps past the end are the identity (1, 0));
//     1. each thread folds its 16 pairs left to right into an aggregate (the first pair as is, then ∘ the next);
//        a thread made only of steps past the end has the identity (1, 0) as aggregate;
//     2. the 128 aggregates get an inclusive Hillis–Steele scan: for offset 1, 2, 4, …, 64,
//        x[j] ← x[j − offset] ∘ x[j] for j ≥ offset (all j at once);
//     3. thread j's prefix is carry (j = 0) or carry ∘ x[j − 1], carry being the running pair of the previous
//        chunks (initially (1, 0)); the thread rescans its 16 pairs from that prefix, h_t = the b of the result;
//     4. carry ← carry ∘ x[127].
//   y_t = D·u_t, then y_t = fmaf(h_t[n], C_t[n], y_t) for n ascending; y_t ← y_t · (z / (1 + fexp(−z)));
//   output rounded to fp16 (RNE), stored as fp32.
// framework (the research's PyTorch int8 scan):
//   Δ = log1p(exp(v)) for v ≤ 20; per step, sequential in t: Δu = Δ·u, then for n ascending
//   h[n] = exp(Δ·A[n])·h[n] + Δu·B_t[n] and acc += h[n]·C_t[n] (acc from 0; separate multiply and add);
//   y = acc + u·D; y ← y · (z / (1 + exp(−z))). Output fp32.
// reference (mamba's selective_scan_ref):
//   as framework, but dA[t][n] = exp(Δ_t·A[n]) and dBu[t][n] = (Δ_t·B_t[n])·u_t (precomputed for all t in mamba's
//   code, which changes no value), then h[n] = dA·h[n] + dBu. Output fp32.
// No fp32 expression here may be contracted into a fused multiply-add other than the explicit fmaf calls: the
// CPU file is compiled with -ffp-contract=off and the CUDA file with -fmad=false.
//
// Tables (when dt comes as int8 codes, as in every quantized mode): dt_raw = fp32(code)·dt_scale then takes at most
// 256 values per channel, and so do Δ and every decay exp(Δ·A[n]) / exp2(Δ·A2[n]). The table builders evaluate them
// once per (channel, code) with the same functions of the same fp32 inputs, and the scans look them up: the same
// bits as computing them per step, with one exp per (channel, code, n) instead of one per (batch, step, channel, n).
#pragma once

#include <cmath>
#include <cstdint>

#include "kernels/common/fp32_math.h"
#include "kernels/common/host_device.h"

namespace layerscope {

// Layouts (row-major, contiguous fp32): u, dt_raw, z, y: [batch, seqlen, channels]; B, C: [batch, seqlen, state];
// A: [channels, state] (= −exp(A_log)); dt_bias, D: [channels]; last_state (optional): [batch, channels, state].
// Not SelectiveScanArgs: these take dt before its bias and softplus (dt_raw, dt_bias, not delta) and can return
// the last state.
struct QuantScanArgs {
  int64_t batch = 0, seqlen = 0, channels = 0, state = 0;
  const float* u = nullptr;
  const float* dt_raw = nullptr;
  const float* dt_bias = nullptr;
  const float* A = nullptr;
  const float* B = nullptr;
  const float* C = nullptr;
  const float* D = nullptr;
  const float* z = nullptr;
  float* y = nullptr;
  float* last_state = nullptr;
  // dt as int8 codes, in place of dt_raw (null when dt_raw is given): dt_raw[i] = fp32(dt_q[i])·dt_scale, Dequantize's
  // product (core/quant/rounding.h). The scans then read Δ and the decays from the tables, which the variant's table
  // builder must have filled for these inputs; entry c of a code is at c + kQuantScanCodeOffset.
  //   delta_table [channels][256]: the variant's Δ = softplus(dt_raw + dt_bias);
  //   decay_table, kernel variant [channels][state][256]: exp2(Δ·A2[n]), a state's 256 codes together, as the chunk
  //     tree runs one state at a time over many steps;
  //   decay_table, framework and reference [channels][256][state]: exp(Δ·A[n]), a code's states together, as their
  //     scans take all states of one step at once.
  const int8_t* dt_q = nullptr;
  float dt_scale = 0;
  float* delta_table = nullptr;
  float* decay_table = nullptr;
};

constexpr int64_t kQuantScanThreads = 128;
constexpr int64_t kQuantScanItems = 16;
constexpr int64_t kQuantScanChunk = kQuantScanThreads * kQuantScanItems;

// The per-element arithmetic of the variants, shared by the CPU references and the CUDA kernels.
constexpr float kQuantScanLog2e = 1.4426950408889634f;

// One scan element: h ← a·h + b.
struct QuantScanPair {
  float a, b;
};

// (x0 then x1): a = a1·a0, b = fmaf(a1, b0, b1) (what nvcc emits for the research kernel's operator).
LAYERSCOPE_HOST_DEVICE inline QuantScanPair CombineScanPairs(QuantScanPair x0, QuantScanPair x1) {
  return QuantScanPair{x1.a * x0.a, ::fmaf(x1.a, x0.b, x1.b)};
}

// __expf's formula: exp(x) = 2^(x·log2 e).
LAYERSCOPE_HOST_DEVICE inline float QuantScanFastExp(float x) { return Fp32Exp2(x * kQuantScanLog2e); }

LAYERSCOPE_HOST_DEVICE inline float SoftplusKernelVariant(float v) {
  return v <= 20.0f ? Fp32Log1p(QuantScanFastExp(v)) : v;
}
LAYERSCOPE_HOST_DEVICE inline float SoftplusFrameworkVariant(float v) { return v <= 20.0f ? Fp32Log1p(Fp32Exp(v)) : v; }

// The tables' geometry: one entry per int8 code, code c at c + kQuantScanCodeOffset.
constexpr int64_t kQuantScanCodes = 256;
constexpr int kQuantScanCodeOffset = 128;

// dt's code index at element i: its entry in the tables.
LAYERSCOPE_HOST_DEVICE inline int QuantScanCodeIndex(const QuantScanArgs& a, int64_t i) {
  return a.dt_q[i] + kQuantScanCodeOffset;
}

// Where a scan should take dt's codes through the tables: building them costs 256 evaluations of Δ and of each
// decay per channel, and saves batch·seqlen of each. From 1024 steps per channel at most a quarter of the exps
// remain, which leaves ample margin for the build's own launch and the lookups (table loads instead of
// arithmetic); below it the scan is small either way. Both paths give the same bits: this rule only moves time.
constexpr int64_t kQuantScanTableMinSteps = 1024;
inline bool QuantScanTablesPay(int64_t batch, int64_t seqlen) { return batch * seqlen >= kQuantScanTableMinSteps; }

// The tables' entries, shared by the CPU and CUDA builders: the very operations the scans apply to dt_raw. Delta of
// code index c (code c − kQuantScanCodeOffset): dt_raw = fp32(code)·dt_scale (Dequantize's product), then the sum
// with dt_bias and the variant's softplus. Decay: the x-th float of channel e's decay block in its layout, from the
// channel's 256 Δ in `deltas` (x in int: a block holds 256·N floats, and 32-bit division is the cheaper on a GPU).
struct QuantScanKernelTables {
  LAYERSCOPE_HOST_DEVICE static float Delta(const QuantScanArgs& a, int64_t e, int c) {
    const float dt_raw = static_cast<float>(c - kQuantScanCodeOffset) * a.dt_scale;
    return SoftplusKernelVariant(dt_raw + a.dt_bias[e]);
  }
  LAYERSCOPE_HOST_DEVICE static float Decay(const QuantScanArgs& a, int64_t e, int x, const float* deltas) {
    const float A2 = a.A[e * a.state + x / kQuantScanCodes] * kQuantScanLog2e;
    return Fp32Exp2(deltas[x % kQuantScanCodes] * A2);
  }
};
struct QuantScanFrameworkTables {
  LAYERSCOPE_HOST_DEVICE static float Delta(const QuantScanArgs& a, int64_t e, int c) {
    const float dt_raw = static_cast<float>(c - kQuantScanCodeOffset) * a.dt_scale;
    return SoftplusFrameworkVariant(dt_raw + a.dt_bias[e]);
  }
  LAYERSCOPE_HOST_DEVICE static float Decay(const QuantScanArgs& a, int64_t e, int x, const float* deltas) {
    const int state = static_cast<int>(a.state);
    return Fp32Exp(deltas[x / state] * a.A[e * a.state + x % state]);
  }
};

// Each computes the (batch, channel) rows [row_begin, row_end) of row = b·channels + e; rows are independent,
// so callers may split them over threads without changing a bit.
void QuantScanKernelCpu(const QuantScanArgs& args, int64_t row_begin, int64_t row_end);
void QuantScanFrameworkCpu(const QuantScanArgs& args, int64_t row_begin, int64_t row_end);
void QuantScanReferenceCpu(const QuantScanArgs& args, int64_t row_begin, int64_t row_end);
// With args.dt_q set they read Δ and the decays from the tables (args.dt_raw unused), which these fill first for
// the channels [channel_begin, channel_end): the kernel variant's, and the framework's (also the reference's: the
// same Δ and decays). Channels are independent, so callers may split them over threads.
void QuantScanKernelTablesCpu(const QuantScanArgs& args, int64_t channel_begin, int64_t channel_end);
void QuantScanFrameworkTablesCpu(const QuantScanArgs& args, int64_t channel_begin, int64_t channel_end);

// The CUDA kernels (device pointers, d_state ≤ kQuantScanMaxState), enqueued on `stream` (a cudaStream_t; null:
// the legacy default stream). Only in CUDA builds.
constexpr int64_t kQuantScanMaxState = 64;
void QuantScanKernelCuda(const QuantScanArgs& args, void* stream);
void QuantScanFrameworkCuda(const QuantScanArgs& args, void* stream);
void QuantScanReferenceCuda(const QuantScanArgs& args, void* stream);
void QuantScanKernelTablesCuda(const QuantScanArgs& args, void* stream);
void QuantScanFrameworkTablesCuda(const QuantScanArgs& args, void* stream);

}  // namespace layerscope
