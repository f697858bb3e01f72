// Weight quantization of the Quamba recipe (../shared/docs/MODES.md §2.2): per-tensor symmetric int8.
// Internal to the core library (LibTorch types).
#pragma once

#include <ATen/ATen.h>

namespace layerscope {

struct QuantizedWeight {
  at::Tensor q;  // int8 (kChar), the input's shape and device
  double scale;  // dequantized value = scale · q
};

// s = max|W| / 127 with max|W| at least 1e-5; q = clamp(RNE(W / s), -128, 127).
// fp16_arithmetic (the recipe's way, and what published checkpoints hold): W is cast to fp16 and every step
// (max, clamp to 1e-5, /127, W / s, rounding) is an fp16 operation, each result rounded to fp16 (ATen computes
// fp16 ops in fp32 and rounds once, which equals native fp16 arithmetic for these operations); scale is then
// the fp16 value of s. Otherwise the same in fp32 on fp32(W). The two give slightly different codes.
QuantizedWeight QuantizeWeight(const at::Tensor& w, bool fp16_arithmetic = true);

// For A_log, D and dt_bias: s = max|p| / 127 (max at least 1e-5) and q = RNE(p / s) in fp32, without clamp
// (the codes stay within [-127, 127] by construction).
QuantizedWeight QuantizeParameterNoClamp(const at::Tensor& p);

}  // namespace layerscope
