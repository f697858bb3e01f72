// The epilogue of the W8A8 linears (../shared/docs/MODES.md §2.3 steps 2, 4, 7): the int32 accumulator of
// int8 x int8 turned into the linear's output in one pass, the arithmetic shared by the CPU reference and the CUDA
// kernel; plain C++.
//
// Per element: v = fp32(acc) · scale, one fp32 multiply (fp32(acc) rounds |acc| > 2^24 to nearest, ties to even).
// int8 output (requantization, scale = fp32(alpha)): clamp(RNE(v), -128, 127), RNE ties to even (an infinite v
// clamps). fp32 output: v. fp16 output: v rounded once to fp16, to nearest, ties to even (c10::Half on the host,
// __float2half_rn on the device: both the correctly rounded IEEE conversion, overflowing to infinity).
// These are exactly LibTorch's acc.to(kFloat) * scale, then round().clamp(-128, 127).to(kChar) or .to(out), so the
// epilogue reproduces that expression bit for bit for every int32 accumulator (NaN cannot occur: acc is finite
// and the scale positive and finite). The CPU file is compiled with -ffp-contract=off and the CUDA file with
// -fmad=false (a single multiply has nothing to fuse with; the flags keep it that way).
#pragma once

#include <cstdint>

#include "kernels/common/host_device.h"
#include "kernels/common/int8_rounding.h"

namespace layerscope {

// Layouts: acc [rows, cols] with contiguous columns and acc_row_stride elements from one row's start to the next
// (at least cols for distinct rows: the padded tensor-core result read in place); the output [rows, cols]
// row-major, contiguous. Exactly one of y_int8, y_half and y_float is set.
struct W8A8EpilogueArgs {
  int64_t rows = 0, cols = 0;
  const int32_t* acc = nullptr;
  int64_t acc_row_stride = 0;
  float scale = 0;  // fp32(alpha) for y_int8, fp32(scale) for y_half and y_float
  int8_t* y_int8 = nullptr;
  uint16_t* y_half = nullptr;  // IEEE binary16 bits
  float* y_float = nullptr;
};

// v = fp32(acc)·scale.
LAYERSCOPE_HOST_DEVICE inline float W8A8Dequantize(int32_t acc, float scale) { return static_cast<float>(acc) * scale; }

// clamp(RNE(fp32(acc)·alpha), -128, 127).
LAYERSCOPE_HOST_DEVICE inline int8_t W8A8Requantize(int32_t acc, float alpha) {
  return RoundHalfEvenToInt8(W8A8Dequantize(acc, alpha));
}

// The CPU reference for rows [row_begin, row_end) (rows are independent).
void W8A8EpilogueCpu(const W8A8EpilogueArgs& args, int64_t row_begin, int64_t row_end);

// The CUDA kernel (device pointers), enqueued on `stream` (a cudaStream_t; null: the legacy default stream).
// Only in CUDA builds.
void W8A8EpilogueCuda(const W8A8EpilogueArgs& args, void* stream);

}  // namespace layerscope
