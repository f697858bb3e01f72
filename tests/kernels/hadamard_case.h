// Random rows for the fused Hadamard + int8 quantization tests (CPU reference and GPU kernel): never zero, uniform
// in [-1, 1] times a per-row magnitude (1/8, 1 or 8), so that with s_oin = 1/127 some rows stay in range, some
// overflow in a few percent of their values and some mostly; with spikes, every fifth row also holds one value of
// ±1e9, whose rotated quotients pass 2^31 (the wrapping conversion's int32 saturation).
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

#include "core/quant/rounding.h"
#include "tests/support/random_values.h"

namespace layerscope {

constexpr double kHadamardTestScale = 1.0 / 127;

inline at::Tensor HadamardRows(int64_t rows, int64_t d, unsigned seed, bool spikes = true) {
  std::vector<float> v = NonZeroUniform(static_cast<size_t>(rows * d), -1.0f, 1.0f, seed);
  const float magnitudes[] = {0.125f, 1.0f, 8.0f};
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t i = 0; i < d; ++i) v[r * d + i] *= magnitudes[r % 3];
    if (spikes && r % 5 == 0) v[r * d + (r * 7) % d] = r % 2 == 0 ? 1e9f : -1e9f;
  }
  return at::from_blob(v.data(), {rows, d}, at::kFloat).clone();
}

// The LibTorch path the fused op replaced, for its wrapping behaviour (MODES.md §2.3 step 6, the published
// kernel): q = round_r(fp32(x) / fp32(scale)) without the clamp, converted to int32 as a GPU's conversion does
// (saturating) and its low byte kept, so values beyond [-128, 127] wrap modulo 256. *wrapped (when not null)
// receives how many fell outside [-128, 127].
inline at::Tensor QuantizeInt8WrappingReference(const at::Tensor& x, double scale, Rounding r, int64_t* wrapped) {
  const at::Tensor xf = x.to(at::kFloat);
  const at::Tensor v = RoundTo(xf / at::full({}, static_cast<float>(scale), xf.options()), r);
  if (wrapped != nullptr) *wrapped = (v.lt(-128) | v.gt(127)).sum().item<int64_t>();
  // 2147483520 is the largest fp32 below 2^31.
  const at::Tensor i32 = v.clamp(-2147483648.0, 2147483520.0).to(at::kInt);
  // The low byte, read as two's complement: ((i & 255) ^ 128) − 128 maps 128 -> -128, 255 -> -1, 256 -> 0.
  return at::bitwise_xor(at::bitwise_and(i32, 255), 128).sub(128).to(at::kChar);
}

}  // namespace layerscope
