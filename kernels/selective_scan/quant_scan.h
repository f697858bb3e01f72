// The selective-scan arithmetic variants of the quantized modes (../shared/docs/MODES.md §3 "SSM arithmetic"):
// the same recurrence as SelectiveScan (§1 step 6), with dt's bias and softplus inside, computed three ways that
// differ only in rounding. These are the CPU references that CUDA kernels of the variants are checked against;
// each fixes its fp32 operation order here, and a kernel must follow it to agree bit for bit.
//
// Common: Δ = softplus(dt_raw + dt_bias) with threshold 20 (Δ = v for v > 20); state h[n] = 0 at t = 0.
//
// kernel (what the research's CUDA kernel computes; fast-math exp written out as exp2f):
//   fexp(x) = exp2f(x · fp32(log2 e)) — __expf's formula, here with the C library's exp2f.
//   Δ = log1pf(fexp(v)) for v ≤ 20;  Δu = Δ·u;  A2[n] = A[n]·fp32(log2 e).
//   Per state n, the pairs (a_t, b_t) = (exp2f(Δ_t·A2[n]), B_t[n]·Δu_t) are scanned with the associative operator
//   (a0, b0) ∘ (a1, b1) = (a1·a0, fmaf(a1, b0, b1)) in a fixed tree:
//     time is cut into chunks of kQuantScanChunk = 2048 steps = kQuantScanThreads (128) "threads" ×
//     kQuantScanItems (16) consecutive steps (steps past the end are the identity (1, 0), which changes no bit);
//     1. each thread folds its 16 pairs left to right into an aggregate;
//     2. the 128 aggregates get an inclusive Hillis–Steele scan: for offset 1, 2, 4, …, 64,
//        x[j] ← x[j − offset] ∘ x[j] for j ≥ offset (all j at once);
//     3. thread j's prefix is carry (j = 0) or carry ∘ x[j − 1], carry being the running pair of the previous
//        chunks (initially (1, 0)); the thread rescans its 16 pairs from that prefix, h_t = the b of the result;
//     4. carry ← carry ∘ x[127].
//   y_t = D·u_t, then y_t = fmaf(h_t[n], C_t[n], y_t) for n ascending; y_t ← y_t · (z / (1 + fexp(−z)));
//   output rounded to fp16 (RNE), stored as fp32.
// framework (the research's PyTorch int8 scan):
//   Δ = log1pf(expf(v)) for v ≤ 20; per step, sequential in t: Δu = Δ·u, then for n ascending
//   h[n] = expf(Δ·A[n])·h[n] + Δu·B_t[n] and acc += h[n]·C_t[n] (acc from 0; separate multiply and add);
//   y = acc + u·D; y ← y · (z / (1 + expf(−z))). Output fp32.
// reference (mamba's selective_scan_ref):
//   as framework, but dA[t][n] = expf(Δ_t·A[n]) and dBu[t][n] = (Δ_t·B_t[n])·u_t are computed for all t first,
//   then h[n] = dA·h[n] + dBu. Output fp32.
// No fp32 expression here may be contracted into a fused multiply-add other than the explicit fmaf calls; the
// file is compiled with -ffp-contract=off.
#pragma once

#include <cstdint>

namespace layerscope {

// Layouts (row-major, contiguous fp32): u, dt_raw, z, y: [batch, seqlen, channels]; B, C: [batch, seqlen, state];
// A: [channels, state] (= −exp(A_log)); dt_bias, D: [channels]; last_state (optional): [batch, channels, state].
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
};

constexpr int64_t kQuantScanThreads = 128;
constexpr int64_t kQuantScanItems = 16;
constexpr int64_t kQuantScanChunk = kQuantScanThreads * kQuantScanItems;

// Each computes the (batch, channel) rows [row_begin, row_end) of row = b·channels + e; rows are independent,
// so callers may split them over threads without changing a bit.
void QuantScanKernelCpu(const QuantScanArgs& args, int64_t row_begin, int64_t row_end);
void QuantScanFrameworkCpu(const QuantScanArgs& args, int64_t row_begin, int64_t row_end);
void QuantScanReferenceCpu(const QuantScanArgs& args, int64_t row_begin, int64_t row_end);

}  // namespace layerscope
