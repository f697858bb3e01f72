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

template <typename Tables>
void BuildTables(const QuantScanArgs& a, int64_t channel_begin, int64_t channel_end) {
  const int block = static_cast<int>(kQuantScanCodes * a.state);
  for (int64_t e = channel_begin; e < channel_end; ++e) {
    float* deltas = a.delta_table + e * kQuantScanCodes;
    for (int c = 0; c < kQuantScanCodes; ++c) deltas[c] = Tables::Delta(a, e, c);
    for (int x = 0; x < block; ++x) a.decay_table[e * block + x] = Tables::Decay(a, e, x, deltas);
  }
}

// The variants' scans, computing Δ and the decays (kTabled false: the references) or looking them up by dt's code
// (kTabled true); nothing else differs, so the two agree bit for bit when the tables hold what the references compute.
template <bool kTabled>
void KernelRows(const QuantScanArgs& a, int64_t row_begin, int64_t row_end) {
  const int64_t L = a.seqlen, N = a.state;
  std::vector<float> delta_u(L), delta(L), out(L), h(L);
  std::vector<int> code(kTabled ? L : 0);
  std::vector<QuantScanPair> items(kQuantScanChunk);
  std::array<QuantScanPair, kQuantScanThreads> agg;
  for (int64_t row = row_begin; row < row_end; ++row) {
    const Row r = RowOf(a, row);
    for (int64_t t = 0; t < L; ++t) {
      const int64_t i = r.Io(a, t);
      if constexpr (kTabled) {
        code[t] = QuantScanCodeIndex(a, i);
        delta[t] = a.delta_table[r.e * kQuantScanCodes + code[t]];
      } else {
        delta[t] = SoftplusKernelVariant(a.dt_raw[i] + a.dt_bias[r.e]);
      }
      delta_u[t] = delta[t] * a.u[i];
      out[t] = a.D[r.e] * a.u[i];
    }
    for (int64_t n = 0; n < N; ++n) {
      const float A2 = a.A[r.e * N + n] * kQuantScanLog2e;
      const float* decays = kTabled ? a.decay_table + (r.e * N + n) * kQuantScanCodes : nullptr;
      auto decay = [&](int64_t t) {
        if constexpr (kTabled) {
          return decays[code[t]];
        } else {
          return Fp32Exp2(delta[t] * A2);
        }
      };
      QuantScanPair carry{1.0f, 0.0f};
      for (int64_t t0 = 0; t0 < L; t0 += kQuantScanChunk) {
        // Steps past the end are the identity (1, 0). Threads made only of such steps (j ≥ active) are not
        // computed: the tree's outputs that are used, the prefixes agg[j − 1] of active threads j, come from
        // agg[0..j] alone (a round combines x[j − offset] into x[j]), so the tree over the active threads gives them
        // with the 128-wide tree's association and rounding. The carry, which takes all 128, moves on only past a
        // chunk of 128 active threads (any other is the last).
        const int64_t active = std::min(kQuantScanThreads, (L - t0 + kQuantScanItems - 1) / kQuantScanItems);
        for (int64_t k = 0; k < active * kQuantScanItems; ++k) {
          const int64_t t = t0 + k;
          items[k] = t < L ? QuantScanPair{decay(t), a.B[r.Is(a, t, n)] * delta_u[t]} : QuantScanPair{1.0f, 0.0f};
        }
        for (int64_t j = 0; j < active; ++j) {
          agg[j] = items[j * kQuantScanItems];
          for (int64_t k = 1; k < kQuantScanItems; ++k)
            agg[j] = CombineScanPairs(agg[j], items[j * kQuantScanItems + k]);
        }
        for (int64_t offset = 1; offset < active; offset *= 2) {
          // Descending j: agg[j − offset] is still the previous round's value when agg[j] takes it.
          for (int64_t j = active - 1; j >= offset; --j) agg[j] = CombineScanPairs(agg[j - offset], agg[j]);
        }
        for (int64_t j = 0; j < active; ++j) {
          QuantScanPair prefix = j == 0 ? carry : CombineScanPairs(carry, agg[j - 1]);
          for (int64_t k = 0; k < kQuantScanItems; ++k) {
            const int64_t t = t0 + j * kQuantScanItems + k;
            prefix = CombineScanPairs(prefix, items[j * kQuantScanItems + k]);
            if (t < L) h[t] = prefix.b;
          }
        }
        if (active == kQuantScanThreads) carry = CombineScanPairs(carry, agg[kQuantScanThreads - 1]);
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

// A step's Δ and decays exp(Δ·A[n]) (n < N) in the framework and reference variants.
struct FrameworkStep {
  float delta;
  const float* decays;
};

// Element i's step: computed (its decays into `scratch`), or the tables' row of dt's code.
template <bool kTabled>
FrameworkStep FrameworkStepAt(const QuantScanArgs& a, const Row& r, int64_t i, float* scratch) {
  if constexpr (kTabled) {
    const int c = QuantScanCodeIndex(a, i);
    return {a.delta_table[r.e * kQuantScanCodes + c], a.decay_table + (r.e * kQuantScanCodes + c) * a.state};
  } else {
    const float delta = SoftplusFrameworkVariant(a.dt_raw[i] + a.dt_bias[r.e]);
    for (int64_t n = 0; n < a.state; ++n) scratch[n] = Fp32Exp(delta * a.A[r.e * a.state + n]);
    return {delta, scratch};
  }
}

template <bool kTabled>
void FrameworkRows(const QuantScanArgs& a, int64_t row_begin, int64_t row_end) {
  const int64_t L = a.seqlen, N = a.state;
  std::vector<float> h(N), scratch(N);
  for (int64_t row = row_begin; row < row_end; ++row) {
    const Row r = RowOf(a, row);
    std::fill(h.begin(), h.end(), 0.0f);
    for (int64_t t = 0; t < L; ++t) {
      const int64_t i = r.Io(a, t);
      const FrameworkStep step = FrameworkStepAt<kTabled>(a, r, i, scratch.data());
      const float delta_u = step.delta * a.u[i];
      float acc = 0.0f;
      for (int64_t n = 0; n < N; ++n) {
        h[n] = step.decays[n] * h[n] + delta_u * a.B[r.Is(a, t, n)];
        acc += h[n] * a.C[r.Is(a, t, n)];
      }
      const float y = acc + a.u[i] * a.D[r.e];
      const float z = a.z[i];
      a.y[i] = y * (z / (1.0f + Fp32Exp(-z)));
    }
    if (a.last_state != nullptr && L > 0) std::copy(h.begin(), h.end(), a.last_state + row * N);
  }
}

template <bool kTabled>
void ReferenceRows(const QuantScanArgs& a, int64_t row_begin, int64_t row_end) {
  const int64_t L = a.seqlen, N = a.state;
  std::vector<float> h(N), dA(L * N), dBu(L * N);
  for (int64_t row = row_begin; row < row_end; ++row) {
    const Row r = RowOf(a, row);
    for (int64_t t = 0; t < L; ++t) {
      const int64_t i = r.Io(a, t);
      // Computed decays go straight into dA's row (the copy below then keeps them).
      const FrameworkStep step = FrameworkStepAt<kTabled>(a, r, i, dA.data() + t * N);
      for (int64_t n = 0; n < N; ++n) {
        dA[t * N + n] = step.decays[n];
        dBu[t * N + n] = (step.delta * a.B[r.Is(a, t, n)]) * a.u[i];
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

}  // namespace

void QuantScanKernelCpu(const QuantScanArgs& a, int64_t row_begin, int64_t row_end) {
  a.dt_q != nullptr ? KernelRows<true>(a, row_begin, row_end) : KernelRows<false>(a, row_begin, row_end);
}

void QuantScanFrameworkCpu(const QuantScanArgs& a, int64_t row_begin, int64_t row_end) {
  a.dt_q != nullptr ? FrameworkRows<true>(a, row_begin, row_end) : FrameworkRows<false>(a, row_begin, row_end);
}

void QuantScanReferenceCpu(const QuantScanArgs& a, int64_t row_begin, int64_t row_end) {
  a.dt_q != nullptr ? ReferenceRows<true>(a, row_begin, row_end) : ReferenceRows<false>(a, row_begin, row_end);
}

void QuantScanKernelTablesCpu(const QuantScanArgs& a, int64_t channel_begin, int64_t channel_end) {
  BuildTables<QuantScanKernelTables>(a, channel_begin, channel_end);
}

void QuantScanFrameworkTablesCpu(const QuantScanArgs& a, int64_t channel_begin, int64_t channel_end) {
  BuildTables<QuantScanFrameworkTables>(a, channel_begin, channel_end);
}

}  // namespace layerscope
