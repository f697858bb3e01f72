// Quantized causal depthwise conv1d + SiLU on int8 codes (../shared/docs/MODES.md §2.3 step 3), the arithmetic
// shared by the CPU reference and the CUDA kernel (one thread per output element); plain C++.
//
// acc[b,t,e] = Σ_{k<K} w[e,k]·x[b, t−K+1+k, e] in int32 (zero history: positions before 0 contribute nothing);
// bias = s_b·fp32(b_q[e]); v = ws·fp32(acc) + bias (a multiply then an add, no fused multiply-add);
// SiLU(v) = v / (1 + exp(−v)) with exp = Fp32Exp (kernels/common/fp32_math.h, the same bits on host and device).
// int8 output: clamp(RHAZ(SiLU(v) / s_out), -128, 127) (true fp32 division).
// The CPU file is compiled with -ffp-contract=off and the CUDA file with -fmad=false.
#pragma once

#include <cstdint>

#include "kernels/common/fp32_math.h"
#include "kernels/common/host_device.h"
#include "kernels/common/int8_rounding.h"

namespace layerscope {

// Layouts (row-major, contiguous): x, y: [batch, seqlen, channels]; w: [channels, width]; bias: [channels].
// Exactly one of y_int8 and y_float is set.
struct QuantConv1dArgs {
  int64_t batch = 0, seqlen = 0, channels = 0, width = 0;
  const int8_t* x = nullptr;
  const int8_t* w = nullptr;
  const int8_t* bias = nullptr;
  float ws = 0;     // fp32(s_w)·fp32(s_x)
  float s_b = 0;    // fp32(s_b)
  float s_out = 0;  // fp32(s_out), for y_int8
  int8_t* y_int8 = nullptr;
  float* y_float = nullptr;
};

// SiLU(v) of output element (bt = b·seqlen + t, e).
LAYERSCOPE_HOST_DEVICE inline float QuantConv1dSiluAt(const QuantConv1dArgs& a, int64_t bt, int64_t e) {
  const int64_t E = a.channels, K = a.width;
  const int64_t t = bt % a.seqlen, row0 = bt - t;  // row0 = b·seqlen
  int32_t acc = 0;
  for (int64_t k = K - 1 - t > 0 ? K - 1 - t : 0; k < K; ++k) {
    acc += static_cast<int32_t>(a.w[e * K + k]) * a.x[(row0 + t - K + 1 + k) * E + e];
  }
  const float bias = a.s_b * static_cast<float>(a.bias[e]);
  const float v = a.ws * static_cast<float>(acc) + bias;
  return v / (1.0f + Fp32Exp(-v));
}

// Writes output element (bt, e) to y_int8 or y_float.
LAYERSCOPE_HOST_DEVICE inline void QuantConv1dStore(const QuantConv1dArgs& a, int64_t bt, int64_t e) {
  const float silu = QuantConv1dSiluAt(a, bt, e);
  const int64_t i = bt * a.channels + e;
  if (a.y_int8 != nullptr) {
    a.y_int8[i] = RoundHalfAwayToInt8(silu / a.s_out);
  } else {
    a.y_float[i] = silu;
  }
}

// The CPU reference for the (b, t) rows [row_begin, row_end) of row = b·seqlen + t (rows are independent).
void QuantConv1dSiluCpu(const QuantConv1dArgs& args, int64_t row_begin, int64_t row_end);

// The CUDA kernel (device pointers), enqueued on `stream` (a cudaStream_t; null: the legacy default stream).
// Only in CUDA builds.
void QuantConv1dSiluCuda(const QuantConv1dArgs& args, void* stream);

}  // namespace layerscope
