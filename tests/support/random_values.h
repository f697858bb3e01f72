// Random test and benchmark data that is never zero, from a seeded std::mt19937: the same values on every machine.
#pragma once

#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

namespace layerscope {

// `n` floats uniform in [lo, hi], a drawn zero replaced by hi (so no input has exact zeros).
inline std::vector<float> NonZeroUniform(size_t n, float lo, float hi, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) {
    x = d(rng);
    if (x == 0.0f) x = hi;
  }
  return v;
}

// `n` int8 codes uniform over [-128, 127], a drawn zero replaced by 1.
inline std::vector<int8_t> NonZeroInt8(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> d(-128, 127);
  std::vector<int8_t> v(n);
  for (int8_t& x : v) {
    const int c = d(rng);
    x = static_cast<int8_t>(c == 0 ? 1 : c);
  }
  return v;
}

}  // namespace layerscope
