// ScanCase: random, never-zero inputs of the selective scan at a given shape, with an independent fp64
// recurrence; shared by the CPU reference test and the GPU kernel test.
#pragma once

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "kernels/selective_scan/selective_scan.h"

namespace layerscope {

struct ScanShape {
  int64_t batch, seqlen, channels, state;
};

inline void PrintTo(const ScanShape& s, std::ostream* os) {
  *os << s.batch << "x" << s.seqlen << "x" << s.channels << "x" << s.state;
}

struct ScanCase {
  ScanCase(ScanShape s, unsigned seed) {
    std::mt19937 rng(seed);
    auto fill = [&](std::vector<float>& v, size_t n, float lo, float hi) {
      std::uniform_real_distribution<float> d(lo, hi);
      v.resize(n);
      for (auto& x : v) x = d(rng);
    };
    const size_t ble = s.batch * s.seqlen * s.channels, bln = s.batch * s.seqlen * s.state;
    fill(u, ble, -2.0f, 2.0f);
    fill(delta, ble, 0.001f, 0.5f);  // softplus outputs: positive
    fill(z, ble, -3.0f, 3.0f);
    fill(A, s.channels * s.state, -4.0f, -0.05f);  // -exp(A_log): negative
    fill(B, bln, -1.5f, 1.5f);
    fill(C, bln, -1.5f, 1.5f);
    fill(D, s.channels, 0.2f, 1.8f);
    y.assign(ble, 0.0f);
    args = SelectiveScanArgs{s.batch,  s.seqlen, s.channels, s.state,  u.data(), delta.data(),
                             A.data(), B.data(), C.data(),   D.data(), z.data(), nullptr};
  }

  // The recurrence of MODES.md §1 step 6 in double precision, in the plainest order.
  std::vector<double> Fp64Reference() const {
    const int64_t E = args.channels, N = args.state, L = args.seqlen;
    std::vector<double> out(y.size());
    for (int64_t b = 0; b < args.batch; ++b) {
      for (int64_t e = 0; e < E; ++e) {
        std::vector<double> s(N, 0.0);
        for (int64_t t = 0; t < L; ++t) {
          const int64_t i = (b * L + t) * E + e, j = (b * L + t) * N;
          double acc = 0;
          for (int64_t n = 0; n < N; ++n) {
            s[n] = std::exp(double(delta[i]) * A[e * N + n]) * s[n] + double(delta[i]) * B[j + n] * u[i];
            acc += s[n] * C[j + n];
          }
          const double zi = z[i];
          out[i] = (acc + double(D[e]) * u[i]) * zi / (1.0 + std::exp(-zi));
        }
      }
    }
    return out;
  }

  std::vector<float> u, delta, z, A, B, C, D, y;
  SelectiveScanArgs args;
};

}  // namespace layerscope
