// The quantized modes' RMSNorm (rms_norm.h) on tensors: dispatches to the CUDA kernel (CUDA tensors in a CUDA
// build, on LibTorch's current stream) or the CPU reference. Internal to the core library (LibTorch types); the
// argument checks with user-facing messages are the caller's (QRmsNorm* in core/quant/qops.h).
#pragma once

#include <ATen/ATen.h>

namespace layerscope {

// s fp32 [..., D] with D ≥ 1; eps and s_out as fp32. out = kChar: the int8 codes (s_out used); kFloat: y.
// Returns s's shape on s's device.
at::Tensor QuantRmsNorm(const at::Tensor& s, float eps, float s_out, at::ScalarType out);

}  // namespace layerscope
