// The W8A8 epilogue (w8a8_epilogue.h) on tensors: dispatches to the CUDA kernel (CUDA tensors in a CUDA build, on
// LibTorch's current stream) or the CPU reference. Internal to the core library (LibTorch types); the checks of
// the linears' own arguments are W8A8Linear*'s (core/quant/qops.h).
#pragma once

#include <ATen/ATen.h>

namespace layerscope {

// acc int32 [rows, cols], any strides (contiguous columns are read in place, as the narrowed view of a padded
// matrix product; others are copied first); scale positive and finite: fp32(alpha) for out = kChar (the int8
// codes), fp32(scale) for out = kHalf or kFloat. Returns a contiguous [rows, cols] tensor of `out` on acc's
// device. A malformed acc, out or scale is Error(kInvalidArgument) naming it.
at::Tensor W8A8Epilogue(const at::Tensor& acc, float scale, at::ScalarType out);

}  // namespace layerscope
