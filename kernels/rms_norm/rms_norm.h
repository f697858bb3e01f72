// RMSNorm of the quantized modes with γ folded into the next linear (../shared/docs/MODES.md §2.1, §2.3 step 1),
// the arithmetic shared by the CPU reference and the CUDA kernel; plain C++.
//
// Per row s of D values: ms = fp32(Σ_d s_d² / D), the squares (exact in fp64) summed in fp64 in ascending d (the
// kernel sums in that order too, so the two agree even where fp64 rounding would depend on the order);
// r = sqrtf(ms + eps); y = s / r (fp32 division); int8 output: clamp(RNE(y / s_out), -128, 127).
// sqrt and division are correctly rounded IEEE operations on both sides (no fast-math), so they agree bit for bit.
#pragma once

#include <cmath>
#include <cstdint>

#include "kernels/common/host_device.h"
#include "kernels/common/int8_rounding.h"

namespace layerscope {

// Layouts (row-major, contiguous): x, y: [rows, dim]. Exactly one of y_int8 and y_float is set.
struct QuantRmsNormArgs {
  int64_t rows = 0, dim = 0;
  const float* x = nullptr;
  float eps = 0;    // fp32(eps)
  float s_out = 0;  // fp32(s_out), for y_int8
  int8_t* y_int8 = nullptr;
  float* y_float = nullptr;
};

// r of a row from its fp64 sum of squares.
LAYERSCOPE_HOST_DEVICE inline float RmsOfSumOfSquares(double sum_of_squares, int64_t dim, float eps) {
  const float ms = static_cast<float>(sum_of_squares / static_cast<double>(dim));
  return ::sqrtf(ms + eps);
}

// Writes element `index` (= row·dim + d) given its row's rms.
LAYERSCOPE_HOST_DEVICE inline void QuantRmsNormStore(const QuantRmsNormArgs& a, int64_t index, float rms) {
  const float y = a.x[index] / rms;
  if (a.y_int8 != nullptr) {
    a.y_int8[index] = RoundHalfEvenToInt8(y / a.s_out);
  } else {
    a.y_float[index] = y;
  }
}

// The CPU reference for rows [row_begin, row_end) (rows are independent).
void QuantRmsNormCpu(const QuantRmsNormArgs& args, int64_t row_begin, int64_t row_end);

// The CUDA kernel (device pointers), enqueued on `stream` (a cudaStream_t; null: the legacy default stream).
// Only in CUDA builds.
void QuantRmsNormCuda(const QuantRmsNormArgs& args, void* stream);

}  // namespace layerscope
