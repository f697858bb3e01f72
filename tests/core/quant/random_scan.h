// RandomScan: random inputs of the selective scan (SsmInputs) at a given shape, never zero, for the scan tests on
// CPU (tests/core/quant) and GPU (tests/kernels).
#pragma once

#include <ATen/ATen.h>

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <ostream>
#include <random>
#include <vector>

#include "core/quant/qops.h"
#include "tests/support/random_values.h"

namespace layerscope {

// A float tensor of `shape` uniform in [lo, hi], never zero (NonZeroUniform).
inline at::Tensor Uniform(at::IntArrayRef shape, float lo, float hi, unsigned seed) {
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  std::vector<float> v = NonZeroUniform(static_cast<size_t>(n), lo, hi, seed);
  return at::from_blob(v.data(), shape, at::kFloat).clone();
}

struct ScanShape {
  int64_t B, L, E, N;
};

inline void PrintTo(const ScanShape& s, std::ostream* os) { *os << s.B << "x" << s.L << "x" << s.E << "x" << s.N; }

inline SsmInputs RandomScan(const ScanShape& s, unsigned seed) {
  SsmInputs in;
  in.u = Uniform({s.B, s.L, s.E}, -2.0f, 2.0f, seed + 1);
  // dt_raw + dt_bias in about [-6, 3], and a few values above the softplus threshold 20.
  in.dt_raw = Uniform({s.B, s.L, s.E}, -4.0f, 1.5f, seed + 2);
  in.dt_raw.view({-1}).slice(0, 0, in.dt_raw.numel(), 97).fill_(21.5f);
  in.dt_bias = Uniform({s.E}, -2.0f, 1.5f, seed + 3);
  in.A = -at::exp(Uniform({s.E, s.N}, -2.5f, 1.4f, seed + 4));
  in.Bm = Uniform({s.B, s.L, s.N}, -1.5f, 1.5f, seed + 5);
  in.Cm = Uniform({s.B, s.L, s.N}, -1.5f, 1.5f, seed + 6);
  in.D = Uniform({s.E}, 0.2f, 1.8f, seed + 7);
  in.z = Uniform({s.B, s.L, s.E}, -3.0f, 3.0f, seed + 8);
  return in;
}

// RandomScan's inputs with dt as int8 codes (dt_q, dt_scale 0.05; dt_raw undefined). Each channel's codes cycle
// through all 256 values in an order of its own, so a channel with B·L ≥ 256 has every code, −128 and 127 included.
// Channel 0's dt_bias is 19.5: its softplus argument fp32(code)·0.05 + 19.5 exceeds the threshold 20 for codes
// above 10.
inline SsmInputs RandomCodedScan(const ScanShape& s, unsigned seed) {
  SsmInputs in = RandomScan(s, seed);
  in.dt_raw = at::Tensor();
  in.dt_scale = 0.05;
  in.dt_q = at::empty({s.B, s.L, s.E}, at::kChar);
  int8_t* codes = in.dt_q.data_ptr<int8_t>();
  std::mt19937 rng(seed + 9);
  std::vector<int> order(256);
  for (int64_t e = 0; e < s.E; ++e) {
    std::iota(order.begin(), order.end(), -128);
    std::shuffle(order.begin(), order.end(), rng);
    for (int64_t j = 0; j < s.B * s.L; ++j) codes[j * s.E + e] = static_cast<int8_t>(order[j % 256]);
  }
  if (s.E > 0) in.dt_bias[0] = 19.5f;
  return in;
}

}  // namespace layerscope
