// Accumulators and scales for the W8A8 epilogue tests (CPU reference and GPU kernel): every int32 edge the contract
// names, then seeded random values spread over all magnitudes, so that one matrix reaches every regime: fp32(acc)
// exact and rounded (|acc| > 2^24, ties included), products that tie at x.5, clamped and in-range codes, fp16
// subnormals and overflow, fp32 subnormal and infinite products.
#pragma once

#include <ATen/ATen.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

namespace layerscope {

// ±(0, 1, 2, 3, 255, 257, 2^24 − 1, 2^24, 2^24 + 1, 2^24 + 2, 2^24 + 3, 2^25 + 2, 2^25 + 6, 2^31 − 65, 2^31 − 64,
// 2^31 − 1) and INT32_MIN: 2^24 + 1 and 2^25 + 2 tie between two fp32 values (to even: down), 2^24 + 3 and
// 2^25 + 6 tie upwards, 2^31 − 64 and 2^31 − 1 round up to 2^31; 255 and 257 give ±127.5 and ±128.5 at alpha ½.
inline std::vector<int32_t> EdgeAccumulators() {
  const int64_t magnitudes[] = {0,
                                1,
                                2,
                                3,
                                255,
                                257,
                                (1 << 24) - 1,
                                1 << 24,
                                (1 << 24) + 1,
                                (1 << 24) + 2,
                                (1 << 24) + 3,
                                (1 << 25) + 2,
                                (1 << 25) + 6,
                                (1ll << 31) - 65,
                                (1ll << 31) - 64,
                                (1ll << 31) - 1};
  std::vector<int32_t> v;
  for (int64_t m : magnitudes) {
    v.push_back(static_cast<int32_t>(m));
    v.push_back(static_cast<int32_t>(-m));
  }
  v.push_back(std::numeric_limits<int32_t>::min());
  return v;
}

// An int32 [rows, cols] matrix: EdgeAccumulators() first, then values whose magnitude is uniform in [0, 2^k] for a
// k uniform in [0, 31] (a third of them), uniform over all of int32 (a third), or small odd and even values in
// [-600, 600] (ties at alpha = ½ and ¼, and the int8 boundary).
inline at::Tensor EpilogueAccumulators(int64_t rows, int64_t cols, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> kind(0, 2), bits(0, 31), small(-600, 600);
  std::uniform_int_distribution<int32_t> any(std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max());
  const std::vector<int32_t> edges = EdgeAccumulators();
  at::Tensor acc = at::empty({rows, cols}, at::kInt);
  int32_t* p = acc.data_ptr<int32_t>();
  for (int64_t i = 0; i < rows * cols; ++i) {
    if (i < static_cast<int64_t>(edges.size())) {
      p[i] = edges[i];
      continue;
    }
    switch (kind(rng)) {
      case 0: {
        const int64_t bound = int64_t{1} << bits(rng);
        const int64_t m = std::uniform_int_distribution<int64_t>(-bound, bound - 1)(rng);
        p[i] = static_cast<int32_t>(m);
        break;
      }
      case 1: p[i] = any(rng); break;
      default: p[i] = small(rng);
    }
  }
  return acc;
}

// fp32 scales: ½ and ¼ (ties), 1/3 and 0.00313 (the model's range), 2^-20 (fp16 subnormals), 40 (fp16 overflow),
// 2^100 (fp32 overflow: infinite products, clamped codes), ⅓·2^-140 (a subnormal scale, subnormal products), and
// 5·2^-25 and 2049·2^-25, where fp32(2^24 + 1)·scale is an int8 tie (2.5) and an fp16 tie (1024.5) that the
// product of the unrounded accumulator would miss.
inline std::vector<float> EpilogueScales() {
  return {0.5f,
          0.25f,
          1.0f / 3,
          0.00313f,
          std::ldexp(1.0f, -20),
          40.0f,
          std::ldexp(1.0f, 100),
          static_cast<float>(std::ldexp(1.0 / 3, -140)),
          std::ldexp(5.0f, -25),
          std::ldexp(2049.0f, -25)};
}

}  // namespace layerscope
