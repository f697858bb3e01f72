// The selective-scan arithmetic variants (quant_scan.h) on tensors: dispatches to the CUDA kernels (CUDA tensors
// in a CUDA build, on LibTorch's current stream) or the CPU references. Internal to the core library (LibTorch
// types); the argument checks with user-facing messages are the caller's (SsmScan in core/quant/qops.h).
#pragma once

#include <ATen/ATen.h>

#include "core/modes/mode_spec.h"

namespace layerscope {

// u, dt_raw, z: [B, L, E]; Bm, Cm: [B, L, N]; dt_bias, D: [E]; A: [E, N]; fp32, all on one device.
// dt comes either as dt_raw (dt_q undefined) or as int8 codes dt_q [B, L, E] with dt_raw = fp32(dt_q)·fp32(dt_scale)
// (dt_raw undefined): the scan then builds the variant's tables of Δ and the decays for the 256 codes (a workspace
// on u's device, on its current stream) and looks them up, whatever the size (the caller decides where they pay).
// Returns y [B, L, E] fp32 on that device; last_state, when not null, receives the state after the last step,
// fp32 [B, E, N] (zeros when L = 0).
at::Tensor QuantScan(SsmArithmetic arithmetic, const at::Tensor& u, const at::Tensor& dt_raw, const at::Tensor& dt_q,
                     float dt_scale, const at::Tensor& dt_bias, const at::Tensor& A, const at::Tensor& Bm,
                     const at::Tensor& Cm, const at::Tensor& D, const at::Tensor& z, at::Tensor* last_state);

}  // namespace layerscope
