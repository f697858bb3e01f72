// CUDA W8A8 epilogue: a pure streaming pass, so the work is laid out for the memory system. Blocks walk the rows
// (grid y, striding past the 65535-block limit) and the threads of a row's blocks its columns; where the columns
// come in aligned groups of four (cols % 4 == 0, a 16-byte aligned accumulator and row stride, an aligned output)
// each thread loads an int4 and stores its four outputs with one 4-, 8- or 16-byte store; elsewhere one element
// per thread. The arithmetic is w8a8_epilogue.h's, bit-identical to the CPU reference (this file is compiled with
// -fmad=false).
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <stdexcept>
#include <string>

#include "kernels/w8a8_epilogue/w8a8_epilogue.h"

namespace layerscope {
namespace {

constexpr int kThreads = 256;
constexpr int64_t kMaxGridY = 65535;

enum class Output { kInt8, kHalf, kFloat };

__device__ uint16_t HalfBits(float v) { return __half_as_ushort(__float2half_rn(v)); }

// Two consecutive fp16 outputs as one little-endian word: the lower-indexed element in the low half.
__device__ uint32_t HalfPair(float low, float high) {
  return HalfBits(low) | static_cast<uint32_t>(HalfBits(high)) << 16;
}

// Element `i` (= row·cols + column) of the output from its accumulator.
template <Output kOut>
__device__ void StoreOne(const W8A8EpilogueArgs& a, int64_t i, int32_t acc) {
  if (kOut == Output::kInt8) {
    a.y_int8[i] = W8A8Requantize(acc, a.scale);
  } else if (kOut == Output::kHalf) {
    a.y_half[i] = HalfBits(W8A8Dequantize(acc, a.scale));
  } else {
    a.y_float[i] = W8A8Dequantize(acc, a.scale);
  }
}

// Elements i … i + 3 (i a multiple of 4) with one store.
template <Output kOut>
__device__ void StoreFour(const W8A8EpilogueArgs& a, int64_t i, int4 acc) {
  if (kOut == Output::kInt8) {
    char4 q;
    q.x = W8A8Requantize(acc.x, a.scale);
    q.y = W8A8Requantize(acc.y, a.scale);
    q.z = W8A8Requantize(acc.z, a.scale);
    q.w = W8A8Requantize(acc.w, a.scale);
    *reinterpret_cast<char4*>(a.y_int8 + i) = q;
  } else if (kOut == Output::kHalf) {
    uint2 h;
    h.x = HalfPair(W8A8Dequantize(acc.x, a.scale), W8A8Dequantize(acc.y, a.scale));
    h.y = HalfPair(W8A8Dequantize(acc.z, a.scale), W8A8Dequantize(acc.w, a.scale));
    *reinterpret_cast<uint2*>(a.y_half + i) = h;
  } else {
    const float4 v = make_float4(W8A8Dequantize(acc.x, a.scale), W8A8Dequantize(acc.y, a.scale),
                                 W8A8Dequantize(acc.z, a.scale), W8A8Dequantize(acc.w, a.scale));
    *reinterpret_cast<float4*>(a.y_float + i) = v;
  }
}

// kVector: columns in aligned groups of four, one group per thread; else one column per thread.
template <Output kOut, bool kVector>
__global__ void __launch_bounds__(kThreads) W8A8EpilogueKernel(W8A8EpilogueArgs a) {
  const int64_t groups = kVector ? a.cols / 4 : a.cols;
  for (int64_t r = blockIdx.y; r < a.rows; r += gridDim.y) {
    const int32_t* acc = a.acc + r * a.acc_row_stride;
    for (int64_t g = blockIdx.x * static_cast<int64_t>(kThreads) + threadIdx.x; g < groups;
         g += static_cast<int64_t>(gridDim.x) * kThreads) {
      if (kVector) {
        StoreFour<kOut>(a, r * a.cols + 4 * g, __ldg(reinterpret_cast<const int4*>(acc) + g));
      } else {
        StoreOne<kOut>(a, r * a.cols + g, __ldg(acc + g));
      }
    }
  }
}

bool Aligned(const void* p, uintptr_t bytes) { return reinterpret_cast<uintptr_t>(p) % bytes == 0; }

template <Output kOut>
void Launch(const W8A8EpilogueArgs& a, const void* out, uintptr_t out_group_bytes, cudaStream_t stream) {
  const bool vector =
      a.cols % 4 == 0 && a.acc_row_stride % 4 == 0 && Aligned(a.acc, 16) && Aligned(out, out_group_bytes);
  const int64_t groups = vector ? a.cols / 4 : a.cols;
  const int64_t blocks_x = (groups + kThreads - 1) / kThreads;
  const dim3 grid(static_cast<unsigned>(blocks_x < 0x7fffffff ? blocks_x : 0x7fffffff),
                  static_cast<unsigned>(a.rows < kMaxGridY ? a.rows : kMaxGridY));
  if (vector) {
    W8A8EpilogueKernel<kOut, true><<<grid, kThreads, 0, stream>>>(a);
  } else {
    W8A8EpilogueKernel<kOut, false><<<grid, kThreads, 0, stream>>>(a);
  }
}

}  // namespace

void W8A8EpilogueCuda(const W8A8EpilogueArgs& args, void* stream) {
  if (args.rows == 0 || args.cols == 0) return;
  const auto s = static_cast<cudaStream_t>(stream);
  if (args.y_int8 != nullptr) {
    Launch<Output::kInt8>(args, args.y_int8, 4, s);
  } else if (args.y_half != nullptr) {
    Launch<Output::kHalf>(args, args.y_half, 8, s);
  } else {
    Launch<Output::kFloat>(args, args.y_float, 16, s);
  }
  const cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) throw std::runtime_error(std::string("W8A8 epilogue launch: ") + cudaGetErrorString(err));
}

}  // namespace layerscope
