// CUDA Hadamard + int8 quantization: one block per row, the row in shared memory (dynamic, d floats). The
// butterflies run in place in shared memory (all d / 2 pairs of a stage spread over the threads, a barrier between
// stages); the block factor gives each thread whole columns j, their b values in registers (b is a template
// argument, so H_b's rows are read from the kernel's parameters at fixed offsets); then every thread quantizes
// four consecutive values and stores them as one 32-bit word, and the overflow count is summed per warp by
// shuffles and added to the device counter with one integer atomic per warp that saw any (integer sums: the same
// total in any order). The arithmetic is hadamard_quant.h's, bit-identical to the CPU reference (this file is
// compiled with -fmad=false).
#include <cuda_runtime.h>

#include <cstdint>
#include <stdexcept>
#include <string>

#include "kernels/hadamard/hadamard_quant.h"

namespace layerscope {
namespace {

constexpr int kThreads = 128;

// kVector: dim % 4 == 0 and y, codes aligned for float4 loads and 32-bit stores.
template <int kBlock, bool kVector>
__global__ void __launch_bounds__(kThreads) HadamardQuantKernel(HadamardQuantArgs a) {
  extern __shared__ float4 row_vectors[];  // declared as float4 for the alignment of the vector loads
  float* row = reinterpret_cast<float*>(row_vectors);
  const int d = static_cast<int>(a.dim), m = d / kBlock;
  const float* y = a.y + static_cast<int64_t>(blockIdx.x) * d;
  int8_t* codes = a.codes + static_cast<int64_t>(blockIdx.x) * d;
  if (kVector) {
    for (int i = threadIdx.x; i < d / 4; i += kThreads) {
      reinterpret_cast<float4*>(row)[i] = reinterpret_cast<const float4*>(y)[i];
    }
  } else {
    for (int i = threadIdx.x; i < d; i += kThreads) row[i] = y[i];
  }
  __syncthreads();
  for (int h = 1; h < m; h *= 2) {
    for (int p = threadIdx.x; p < d / 2; p += kThreads) HadamardButterfly(row, h, p);
    __syncthreads();
  }
  if (kBlock > 1) {
    for (int j = threadIdx.x; j < m; j += kThreads) HadamardBlockColumn<kBlock>(a.block_rows, row, m, j);
    __syncthreads();
  }
  int overflows = 0;
  if (kVector) {
    for (int i = threadIdx.x; i < d / 4; i += kThreads) {
      const float4 t = reinterpret_cast<const float4*>(row)[i];
      char4 q;
      q.x = HadamardQuantCode(a, t.x, &overflows);
      q.y = HadamardQuantCode(a, t.y, &overflows);
      q.z = HadamardQuantCode(a, t.z, &overflows);
      q.w = HadamardQuantCode(a, t.w, &overflows);
      reinterpret_cast<char4*>(codes)[i] = q;
    }
  } else {
    for (int i = threadIdx.x; i < d; i += kThreads) codes[i] = HadamardQuantCode(a, row[i], &overflows);
  }
  if (a.overflows == nullptr) return;
  for (int offset = 16; offset > 0; offset /= 2) overflows += __shfl_down_sync(0xffffffffu, overflows, offset);
  if (threadIdx.x % 32 == 0 && overflows > 0) {
    atomicAdd(reinterpret_cast<unsigned long long*>(a.overflows), static_cast<unsigned long long>(overflows));
  }
}

template <int kBlock, bool kVector>
void Launch(const HadamardQuantArgs& args, cudaStream_t stream) {
  const size_t shared = static_cast<size_t>(args.dim) * sizeof(float);
  if (shared > 48 * 1024) {
    // Rows beyond 12288 floats need the opt-in shared memory (up to 227 KiB on an H100).
    const cudaError_t err = cudaFuncSetAttribute(HadamardQuantKernel<kBlock, kVector>,
                                                 cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(shared));
    if (err != cudaSuccess) {
      throw std::runtime_error("Hadamard quantization: a row of " + std::to_string(args.dim) +
                               " floats does not fit in shared memory: " + cudaGetErrorString(err));
    }
  }
  HadamardQuantKernel<kBlock, kVector><<<static_cast<unsigned>(args.rows), kThreads, shared, stream>>>(args);
}

template <int kBlock>
void LaunchAligned(const HadamardQuantArgs& args, cudaStream_t stream) {
  const bool vector = args.dim % 4 == 0 && reinterpret_cast<uintptr_t>(args.y) % 16 == 0 &&
                      reinterpret_cast<uintptr_t>(args.codes) % 4 == 0;
  if (vector) {
    Launch<kBlock, true>(args, stream);
  } else {
    Launch<kBlock, false>(args, stream);
  }
}

}  // namespace

void HadamardQuantCuda(const HadamardQuantArgs& args, void* stream) {
  if (args.rows == 0 || args.dim == 0) return;
  if (args.rows > 0x7fffffff) throw std::invalid_argument("Hadamard quantization: more than 2^31 - 1 rows");
  if (args.dim > 0x7fffffff) throw std::invalid_argument("Hadamard quantization: rows longer than 2^31 - 1");
  const auto s = static_cast<cudaStream_t>(stream);
  switch (args.block) {
    case 1: LaunchAligned<1>(args, s); break;
    case 12: LaunchAligned<12>(args, s); break;
    case 20: LaunchAligned<20>(args, s); break;
    case 28: LaunchAligned<28>(args, s); break;
    default: throw std::invalid_argument("Hadamard quantization: base block " + std::to_string(args.block));
  }
  const cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) {
    throw std::runtime_error(std::string("Hadamard quantization launch: ") + cudaGetErrorString(err));
  }
}

}  // namespace layerscope
