// The quantized conv1d + SiLU (quant_conv1d.h) on tensors: dispatches to the CUDA kernel (CUDA tensors in a CUDA
// build, on LibTorch's current stream) or the CPU reference. Internal to the core library (LibTorch types); the
// argument checks with user-facing messages are the caller's (QConv1dSilu* in core/quant/qops.h).
#pragma once

#include <ATen/ATen.h>

namespace layerscope {

// x_q int8 [B, L, E], w_q int8 [E, K], b_q int8 [E], on one device; ws = fp32(s_w)·fp32(s_x), s_b and s_out
// fp32 scales. out = kChar: the int8 codes (s_out used); kFloat: SiLU(v). Returns [B, L, E] on the inputs' device.
at::Tensor QuantConv1dSilu(const at::Tensor& x_q, const at::Tensor& w_q, const at::Tensor& b_q, float ws, float s_b,
                           float s_out, at::ScalarType out);

}  // namespace layerscope
