// RandomScan: random inputs of the selective scan (SsmInputs) at a given shape, never zero, for the scan tests on
// CPU (tests/core/quant) and GPU (tests/kernels).
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <ostream>
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

}  // namespace layerscope
