// Random rows for the fused Hadamard + int8 quantization tests (CPU reference and GPU kernel): never zero, uniform
// in [-1, 1] times a per-row magnitude (1/8, 1 or 8), so that with s_oin = 1/127 some rows stay in range, some
// overflow in a few percent of their values and some mostly; with spikes, every fifth row also holds one value of
// ±1e9, whose rotated quotients pass 2^31 (the wrapping conversion's int32 saturation).
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

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

}  // namespace layerscope
