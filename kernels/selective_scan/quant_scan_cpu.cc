#include <c10/util/Half.h>

#include <algorithm>
#include <array>
#include <vector>

#include "kernels/selective_scan/quant_scan.h"

namespace layerscope {
namespace {

// Reads the row-th (batch, channel) pair's strided series.
struct Row {
  int64_t b, e;
  int64_t Io(const QuantScanArgs& a, int64_t t) const { return (b * a.seqlen + t) * a.channels + e; }
  int64_t Is(const QuantScanArgs& a, int64_t t, int64_t n) const { return (b * a.seqlen + t) * a.state + n; }
};

Row RowOf(const QuantScanArgs& a, int64_t row) { return Row{row / a.channels, row % a.channels}; }

}  // namespace

void QuantScanKernelCpu(const QuantScanArgs& a, int64_t row_begin, int64_t row_end) {
  const int64_t L = a.seqlen, N = a.state;
  std::vector<float> delta_u(L), delta(L), out(L), h(L);
  std::vector<QuantScanPair> items(kQuantScanChunk);
  std::array<QuantScanPair, kQuantScanThreads> agg, next;
  for (int64_t row = row_begin; row < row_end; ++row) {
    const Row r = RowOf(a, row);
    for (int64_t t = 0; t < L; ++t) {
      const int64_t i = r.Io(a, t);
      delta[t] = SoftplusKernelVariant(a.dt_raw[i] + a.dt_bias[r.e]);
      delta_u[t] = delta[t] * a.u[i];
      out[t] = a.D[r.e] * a.u[i];
    }
    for (int64_t n = 0; n < N; ++n) {
      const float A2 = a.A[r.e * N + n] * kQuantScanLog2e;
      QuantScanPair carry{1.0f, 0.0f};
      for (int64_t t0 = 0; t0 < L; t0 += kQuantScanChunk) {
        // Steps past the end are the identity (1, 0). Threads made only of such steps have the identity as
        // aggregate and their outputs are unused, so they are not computed; the 128-wide tree below still runs
        // in full, since its association (and so its rounding) depends on the thread count.
        const int64_t active = std::min(kQuantScanThreads, (L - t0 + kQuantScanItems - 1) / kQuantScanItems);
        for (int64_t k = 0; k < active * kQuantScanItems; ++k) {
          const int64_t t = t0 + k;
          items[k] = t < L ? QuantScanPair{Fp32Exp2(delta[t] * A2), a.B[r.Is(a, t, n)] * delta_u[t]}
                           : QuantScanPair{1.0f, 0.0f};
        }
        for (int64_t j = 0; j < kQuantScanThreads; ++j) {
          QuantScanPair acc{1.0f, 0.0f};
          if (j < active) {
            acc = items[j * kQuantScanItems];
            for (int64_t k = 1; k < kQuantScanItems; ++k) acc = CombineScanPairs(acc, items[j * kQuantScanItems + k]);
          }
          agg[j] = acc;
        }
        for (int64_t offset = 1; offset < kQuantScanThreads; offset *= 2) {
          for (int64_t j = 0; j < kQuantScanThreads; ++j)
            next[j] = j >= offset ? CombineScanPairs(agg[j - offset], agg[j]) : agg[j];
          agg = next;
        }
        for (int64_t j = 0; j < active; ++j) {
          QuantScanPair prefix = j == 0 ? carry : CombineScanPairs(carry, agg[j - 1]);
          for (int64_t k = 0; k < kQuantScanItems; ++k) {
            const int64_t t = t0 + j * kQuantScanItems + k;
            prefix = CombineScanPairs(prefix, items[j * kQuantScanItems + k]);
            if (t < L) h[t] = prefix.b;
          }
        }
        carry = CombineScanPairs(carry, agg[kQuantScanThreads - 1]);
      }
      for (int64_t t = 0; t < L; ++t) out[t] = ::fmaf(h[t], a.C[r.Is(a, t, n)], out[t]);
      if (a.last_state != nullptr && L > 0) a.last_state[(r.b * a.channels + r.e) * N + n] = h[L - 1];
    }
    for (int64_t t = 0; t < L; ++t) {
      const int64_t i = r.Io(a, t);
      const float z = a.z[i];
      const float gated = out[t] * (z / (1.0f + QuantScanFastExp(-z)));
      a.y[i] = static_cast<float>(c10::Half(gated));
    }
  }
}

void QuantScanFrameworkCpu(const QuantScanArgs& a, int64_t row_begin, int64_t row_end) {
  const int64_t L = a.seqlen, N = a.state;
  std::vector<float> h(N);
  for (int64_t row = row_begin; row < row_end; ++row) {
    const Row r = RowOf(a, row);
    const float* A = a.A + r.e * N;
    std::fill(h.begin(), h.end(), 0.0f);
    for (int64_t t = 0; t < L; ++t) {
      const int64_t i = r.Io(a, t);
      const float delta = SoftplusFrameworkVariant(a.dt_raw[i] + a.dt_bias[r.e]);
      const float delta_u = delta * a.u[i];
      float acc = 0.0f;
      for (int64_t n = 0; n < N; ++n) {
        h[n] = Fp32Exp(delta * A[n]) * h[n] + delta_u * a.B[r.Is(a, t, n)];
        acc += h[n] * a.C[r.Is(a, t, n)];
      }
      const float y = acc + a.u[i] * a.D[r.e];
      const float z = a.z[i];
      a.y[i] = y * (z / (1.0f + Fp32Exp(-z)));
    }
    if (a.last_state != nullptr && L > 0) std::copy(h.begin(), h.end(), a.last_state + row * N);
  }
}

void QuantScanReferenceCpu(const QuantScanArgs& a, int64_t row_begin, int64_t row_end) {
  const int64_t L = a.seqlen, N = a.state;
  std::vector<float> h(N), dA(L * N), dBu(L * N);
  for (int64_t row = row_begin; row < row_end; ++row) {
    const Row r = RowOf(a, row);
    const float* A = a.A + r.e * N;
    for (int64_t t = 0; t < L; ++t) {
      const int64_t i = r.Io(a, t);
      const float delta = SoftplusFrameworkVariant(a.dt_raw[i] + a.dt_bias[r.e]);
      for (int64_t n = 0; n < N; ++n) {
        dA[t * N + n] = Fp32Exp(delta * A[n]);
        dBu[t * N + n] = (delta * a.B[r.Is(a, t, n)]) * a.u[i];
      }
    }
    std::fill(h.begin(), h.end(), 0.0f);
    for (int64_t t = 0; t < L; ++t) {
      const int64_t i = r.Io(a, t);
      float acc = 0.0f;
      for (int64_t n = 0; n < N; ++n) {
        h[n] = dA[t * N + n] * h[n] + dBu[t * N + n];
        acc += h[n] * a.C[r.Is(a, t, n)];
      }
      const float y = acc + a.u[i] * a.D[r.e];
      const float z = a.z[i];
      a.y[i] = y * (z / (1.0f + Fp32Exp(-z)));
    }
    if (a.last_state != nullptr && L > 0) std::copy(h.begin(), h.end(), a.last_state + row * N);
  }
}

}  // namespace layerscope
