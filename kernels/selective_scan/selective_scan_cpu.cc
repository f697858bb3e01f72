#include <cmath>
#include <vector>

#include "kernels/selective_scan/selective_scan.h"

namespace layerscope {

void SelectiveScanCpu(const SelectiveScanArgs& a, int64_t batch_begin, int64_t batch_end) {
  const int64_t E = a.channels, N = a.state, L = a.seqlen;
  std::vector<float> state(static_cast<size_t>(E * N));
  for (int64_t b = batch_begin; b < batch_end; ++b) {
    std::fill(state.begin(), state.end(), 0.0f);
    // Time outermost, channels inner: every row of u, delta, z, B and C is read once, contiguously.
    for (int64_t t = 0; t < L; ++t) {
      const int64_t row = (b * L + t);
      const float* u = a.u + row * E;
      const float* delta = a.delta + row * E;
      const float* z = a.z + row * E;
      const float* Bt = a.B + row * N;
      const float* Ct = a.C + row * N;
      float* y = a.y + row * E;
      for (int64_t e = 0; e < E; ++e) {
        float* s = state.data() + e * N;
        const float* A = a.A + e * N;
        const float du = delta[e] * u[e];
        float acc = 0.0f;
        for (int64_t n = 0; n < N; ++n) {
          s[n] = std::exp(delta[e] * A[n]) * s[n] + du * Bt[n];
          acc += s[n] * Ct[n];
        }
        const float out = acc + a.D[e] * u[e];
        y[e] = out * (z[e] / (1.0f + std::exp(-z[e])));
      }
    }
  }
}

}  // namespace layerscope
