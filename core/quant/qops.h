// The quantized ops of the Quamba W8A8 data path (../shared/docs/MODES.md §2.3) and the selective-scan
// arithmetic variants of the modes (§3), each with one CPU reference. int8 means kChar. Every op checks its
// arguments (Error(kInvalidArgument) naming the argument and the expected shape/dtype), is deterministic, and
// returns its result on the inputs' device. The exact fp32 operation order is part of each contract: it decides
// where ties fall, so CUDA kernels must follow it to agree bit for bit.
// Internal to the core library (LibTorch types).
#pragma once

#include <ATen/ATen.h>

#include "core/modes/mode_spec.h"

namespace layerscope {

// acc[..., o] = Σ_i x_q[..., i]·w_q[o, i], exact, as int32. x_q int8 [..., in], w_q int8 [out, in].
// On the CPU an fp64 matrix product: every partial sum is an integer below 2^14·in < 2^53, so any summation order
// is exact. On CUDA with LibTorch ≥ 2, at::_int_mm (int8 tensor cores, int32 accumulation: exact for
// in < 2^17), zero-padded to its shape requirements; older LibTorch keeps the fp64 product.
at::Tensor Int8MatmulInt32(const at::Tensor& x_q, const at::Tensor& w_q);

// W8A8 linear with int8 output (in_proj, x_proj, dt_proj): v = fp32(alpha)·fp32(acc) (one fp32 multiply;
// fp32(acc) rounds |acc| > 2^24 to nearest even), int8 = clamp(RNE(v), -128, 127). alpha = s_w·s_in/s_out.
// The accumulator goes through the one-pass epilogue of kernels/w8a8_epilogue/ (CPU reference, and on CUDA a kernel
// reading _int_mm's padded result in place), bit-identical to LibTorch's round(acc.to(kFloat)·alpha).clamp().
at::Tensor W8A8LinearInt8(const at::Tensor& x_q, const at::Tensor& w_q, double alpha);

// W8A8 linear with float output (out_proj): v = fp32(scale)·fp32(acc), scale = s_in·s_w, returned as `out`
// (kHalf: rounded once from fp32, ties to even; kFloat); through the same epilogue as W8A8LinearInt8,
// bit-identical to LibTorch's (acc.to(kFloat)·scale).to(out).
at::Tensor W8A8LinearFloat(const at::Tensor& x_q, const at::Tensor& w_q, double scale, at::ScalarType out);

// Causal depthwise conv1d + SiLU on int8 codes: x_q int8 [B, L, E], w_q int8 [E, K], b_q int8 [E].
// acc[b,t,e] = Σ_{k<K} w_q[e,k]·x_q[b, t−K+1+k, e] in int32 (zero history: positions before 0 contribute 0).
// fp32 order: ws = fp32(s_w)·fp32(s_x); bias = fp32(s_b)·fp32(b_q); v = ws·fp32(acc) + bias (a multiply then an
// add, no fused multiply-add); SiLU(v) = v / (1 + exp(−v)) with exp = Fp32Exp (kernels/common/fp32_math.h: correctly
// rounded fp32 but for a stated, vanishingly rare exception, and the same bits on the CPU and the GPU).
// The CPU reference and the CUDA kernel live in kernels/quant_conv1d/ and agree bit for bit.
// QConv1dSiluInt8 then returns clamp(RHAZ(SiLU(v) / fp32(s_out)), -128, 127) (true fp32 division) as int8.
at::Tensor QConv1dSiluInt8(const at::Tensor& x_q, const at::Tensor& w_q, const at::Tensor& b_q, double s_x, double s_w,
                           double s_b, double s_out);
// The same conv, returning SiLU(v) as fp32 (no output quantization).
at::Tensor QConv1dSiluFloat(const at::Tensor& x_q, const at::Tensor& w_q, const at::Tensor& b_q, double s_x, double s_w,
                            double s_b);

// RMSNorm with γ already folded into the next linear (§2.1): s fp32 [..., D];
// ms = fp32(Σ_d s² accumulated in fp64 / D) (fp64 accumulation makes the result independent of the summation
// order up to fp64 rounding; the CPU reference and the CUDA kernel in kernels/rms_norm/ both sum in ascending d, so
// they agree bit for bit); r = sqrtf(ms + fp32(eps)); y = s / r (fp32 division).
at::Tensor QRmsNormFloat(const at::Tensor& s, double eps);
// clamp(RNE(y / fp32(s_out)), -128, 127) as int8, y as QRmsNormFloat computes it.
at::Tensor QRmsNormInt8(const at::Tensor& s, double eps, double s_out);

// Step 6 (§2.3): y [..., d] (fp32, or fp16/bf16 taken exactly as fp32) rotated by Ĥ_d along the last dimension
// (core/quant/hadamard.h) and quantized to int8 RHAZ(Ĥy / fp32(s_oin)), saturating or wrapping modulo 256 as
// `overflow` says; in one pass (kernels/hadamard/: CPU reference and CUDA kernel, bit-identical), with the fp32
// operation order of ApplyHadamard then QuantizeInt8 (saturating) or the published kernel's wrapping conversion, whose
// codes it reproduces bit for bit (NaN: code 0). overflows, when not null, receives the count of values whose rounded
// quotient lies outside [-128, 127], added on y's device without a host synchronization: an undefined tensor is
// made an int64 0-dim zero there first; a defined one must be int64 0-dim on y's device.
at::Tensor HadamardQuantInt8(const at::Tensor& y, double s_oin, Int8Overflow overflow, at::Tensor* overflows);

// The scan's inputs, already dequantized to fp32 (§2.3 step 5), on one device:
// u, dt_raw (dt_proj's output before the bias and softplus), z: [B, L, E]; Bm, Cm: [B, L, N];
// dt_bias, D: [E]; A: [E, N] (= −exp(A_log)).
// dt may come as its int8 codes instead: dt_q [B, L, E] with scale dt_scale, and dt_raw left undefined. The scan
// then takes dt_raw = Dequantize(dt_q, dt_scale) = fp32(code)·fp32(dt_scale) itself (so it cannot be handed a
// dt_raw that is not its codes' value), and where that pays evaluates Δ and the decays once per channel and code
// instead of once per element: the same bits, fewer exps.
struct SsmInputs {
  at::Tensor u, dt_raw, dt_bias, A, Bm, Cm, D, z;
  at::Tensor dt_q;
  double dt_scale = 0;
};

// The selective scan y [B, L, E] in one of the arithmetic variants of §3 (recurrence of §1 step 6, state zero at
// t = 0). Details of each variant in kernels/selective_scan/quant_scan.h:
//   kKernel:    softplus and gate with a fast exp (exp2(x·log2 e), as __expf); the recurrence as an associative
//               (a, b) scan with a fixed tree in chunks of 2048 steps; y = D·u + Σ_n h·C (fused multiply-adds,
//               ascending n); gate z / (1 + exp(−z)); output rounded to fp16, returned as fp32 values on the fp16
//               grid.
//   kFramework: softplus log1p(exp(v)) for v ≤ 20; sequential fp32 recurrence; (Σ_n h·C) + u·D; y·SiLU(z); fp32.
//   kReference: as kFramework but exp(Δ·A) and Δ·B·u precomputed for all t first (with Δ·B·u associated as
//               (Δ·B)·u, the order of mamba's reference einsum, where kFramework uses (Δ·u)·B).
// last_state, when not null, receives the state after the last step, fp32 [B, E, N] (the calibration's
// ssm_state_act observation). dt's codes (SsmInputs) go through the tables from B·L ≥ kQuantScanTableMinSteps
// (kernels/selective_scan/quant_scan.h), and are dequantized per element below: the same bits. CUDA tensors run the
// CUDA kernels of kernels/selective_scan/quant_scan.cu (d_state ≤ 64; larger ones fall back to the CPU reference),
// bit-identical to the CPU references.
at::Tensor SsmScan(const SsmInputs& in, SsmArithmetic arithmetic, at::Tensor* last_state = nullptr);

}  // namespace layerscope
