// The fused Hadamard + int8 quantization (hadamard_quant.h) on tensors: dispatches to the CUDA kernel (CUDA
// tensors in a CUDA build, on LibTorch's current stream) or the CPU reference. Internal to the core library
// (LibTorch types); the argument checks with user-facing messages are the caller's (HadamardQuantInt8 in
// core/quant/qops.h).
#pragma once

#include <ATen/ATen.h>

namespace layerscope {

// y fp32 [..., d] with d = b·2^k (b = block, 1, 12, 20 or 28), scale = fp32(s_oin); wrap: wrap modulo 256
// instead of saturating. Returns the int8 codes [..., d] on y's device. overflows, when not null: an int64 0-dim
// tensor on y's device that the overflow count is added to (no host synchronization on CUDA).
at::Tensor HadamardQuant(const at::Tensor& y, int64_t block, float scale, bool wrap, at::Tensor* overflows);

}  // namespace layerscope
