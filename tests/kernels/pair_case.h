// PairCase: random, never-zero (reference, mode) pairs like a capture and its quantized counterpart, an fp64
// (long double, two-pass) computation of their moments written independently of PairSums, and the bounds a
// computed PairMoments must meet. Shared by the CPU reference test and the GPU kernel test.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "kernels/metrics/metrics_reduce.h"

namespace layerscope {

struct PairCase {
  // r ~ N(mean, 1) pushed away from zero, m = r (1 + 1e-3 e1) + 1e-4 e2: an error a few thousandths of r.
  PairCase(int64_t n, unsigned seed, double mean = 0.25) : ref(n), mode(n) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> normal;
    for (int64_t i = 0; i < n; ++i) {
      double r = mean + normal(rng);
      if (std::fabs(r) < 1e-3) r = std::copysign(1e-3, r);
      ref[i] = static_cast<float>(r);
      mode[i] = static_cast<float>(r * (1 + 1e-3 * normal(rng)) + 1e-4 * normal(rng));
      if (mode[i] == ref[i]) mode[i] = std::nextafter(ref[i], 0.0f);  // never a zero difference either
    }
  }
  int64_t size() const { return static_cast<int64_t>(ref.size()); }

  std::vector<float> ref, mode;
};

// The moments of the finite pairs by definition, in long double: means first, then sums of deviations.
inline PairMoments Fp64Moments(const float* ref, const float* mode, int64_t n) {
  using Real = long double;
  PairMoments p{};
  std::vector<int64_t> finite;
  for (int64_t i = 0; i < n; ++i) {
    if (!std::isfinite(ref[i])) {
      ++p.nonfinite_ref;
    } else if (!std::isfinite(mode[i])) {
      ++p.nonfinite_mode;
    } else {
      finite.push_back(i);
    }
  }
  p.count = static_cast<int64_t>(finite.size());
  if (finite.empty()) return p;
  Real sr = 0, sm = 0, sd = 0, sr2 = 0, sm2 = 0, sd2 = 0, sar = 0, sad = 0, srm = 0;
  p.min_r = p.max_r = ref[finite[0]], p.min_m = p.max_m = mode[finite[0]];
  p.min_d = p.max_d = double(mode[finite[0]]) - ref[finite[0]];
  for (int64_t i : finite) {
    const Real r = ref[i], m = mode[i], d = m - r;
    sr += r, sm += m, sd += d, sr2 += r * r, sm2 += m * m, sd2 += d * d, sar += std::fabs(r), sad += std::fabs(d);
    srm += r * m;
    const double d64 = double(mode[i]) - double(ref[i]);
    p.min_r = std::min<double>(p.min_r, ref[i]), p.max_r = std::max<double>(p.max_r, ref[i]);
    p.min_m = std::min<double>(p.min_m, mode[i]), p.max_m = std::max<double>(p.max_m, mode[i]);
    p.min_d = std::min(p.min_d, d64), p.max_d = std::max(p.max_d, d64);
  }
  p.max_abs_d = std::max(-p.min_d, p.max_d);
  const Real count = static_cast<Real>(p.count);
  const Real mr = sr / count, mm = sm / count, md = sd / count;
  Real vr = 0, vm = 0, vd = 0, c = 0;
  for (int64_t i : finite) {
    const Real r = ref[i], m = mode[i], d = m - r;
    vr += (r - mr) * (r - mr), vm += (m - mm) * (m - mm), vd += (d - md) * (d - md), c += (r - mr) * (m - mm);
  }
  p.mean_r = mr, p.mean_m = mm, p.mean_d = md, p.m2_r = vr, p.m2_m = vm, p.m2_d = vd, p.c_rm = c;
  p.sum_r2 = sr2, p.sum_m2 = sm2, p.sum_d2 = sd2, p.sum_abs_r = sar, p.sum_abs_d = sad, p.sum_rm = srm;
  return p;
}

// Checks `got` against `want` (exact or another implementation) of the same pairs. Counts and extrema are exact.
// The rest are fp64 sums of n terms (products of two floats are exact in fp64, and d = m - r is exact for these
// data), so recursive summation in any order is within (n - 1) u sum|terms| of the exact sum, u = 2^-53; two
// implementations are within twice that. The terms' scales, bounded from `want` alone:
//   sums of non-negative terms: the sum itself; sum r m: sqrt(sum r^2 sum m^2) (Cauchy-Schwarz);
//   centred moments: the sums add (x - shift)^2 for a shift that is one of the values, so n (max - min)^2 for
//   m2 and n (max_r - min_r)(max_m - min_m) for c_rm; means: max - min + |mean|.
// `slack` covers the few roundings outside the sums (divisions, Chan's merge terms, the final subtraction).
inline void ExpectMomentsNear(const PairMoments& got, const PairMoments& want, double slack = 8) {
  EXPECT_EQ(got.count, want.count);
  EXPECT_EQ(got.nonfinite_ref, want.nonfinite_ref);
  EXPECT_EQ(got.nonfinite_mode, want.nonfinite_mode);
  if (want.count == 0) return;
  EXPECT_EQ(got.min_r, want.min_r);
  EXPECT_EQ(got.max_r, want.max_r);
  EXPECT_EQ(got.min_m, want.min_m);
  EXPECT_EQ(got.max_m, want.max_m);
  EXPECT_EQ(got.min_d, want.min_d);
  EXPECT_EQ(got.max_d, want.max_d);
  EXPECT_EQ(got.max_abs_d, want.max_abs_d);
  const double n = static_cast<double>(want.count);
  const double rel = slack * (n + 2) * std::ldexp(1.0, -53);
  const double range_r = want.max_r - want.min_r, range_m = want.max_m - want.min_m, range_d = want.max_d - want.min_d;
  EXPECT_NEAR(got.mean_r, want.mean_r, rel * (range_r + std::fabs(want.mean_r)));
  EXPECT_NEAR(got.mean_m, want.mean_m, rel * (range_m + std::fabs(want.mean_m)));
  EXPECT_NEAR(got.mean_d, want.mean_d, rel * (range_d + std::fabs(want.mean_d)));
  EXPECT_NEAR(got.m2_r, want.m2_r, rel * n * range_r * range_r);
  EXPECT_NEAR(got.m2_m, want.m2_m, rel * n * range_m * range_m);
  EXPECT_NEAR(got.m2_d, want.m2_d, rel * n * range_d * range_d);
  EXPECT_NEAR(got.c_rm, want.c_rm, rel * n * range_r * range_m);
  EXPECT_NEAR(got.sum_r2, want.sum_r2, rel * want.sum_r2);
  EXPECT_NEAR(got.sum_m2, want.sum_m2, rel * want.sum_m2);
  EXPECT_NEAR(got.sum_d2, want.sum_d2, rel * want.sum_d2);
  EXPECT_NEAR(got.sum_abs_r, want.sum_abs_r, rel * want.sum_abs_r);
  EXPECT_NEAR(got.sum_abs_d, want.sum_abs_d, rel * want.sum_abs_d);
  EXPECT_NEAR(got.sum_rm, want.sum_rm, rel * std::sqrt(want.sum_r2 * want.sum_m2));
}

}  // namespace layerscope
