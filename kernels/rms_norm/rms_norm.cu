// CUDA RMSNorm of the quantized modes: one block per row. The block stages the row through shared memory in
// coalesced tiles and thread 0 adds the squares in ascending d, the CPU reference's order (a row of mamba-130m
// is 768 fp64 additions, a few microseconds, while the other rows' blocks keep the memory busy); then every
// thread normalizes its elements. Bit-identical to the CPU reference (this file is compiled with -fmad=false, so
// the squares are not fused into the sum).
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

#include "kernels/rms_norm/rms_norm.h"

namespace layerscope {
namespace {

constexpr int kThreads = 256;
constexpr int kTile = 1024;

__global__ void __launch_bounds__(kThreads) QuantRmsNormKernel(QuantRmsNormArgs a) {
  __shared__ float tile[kTile];
  __shared__ float rms;
  const int64_t D = a.dim;
  const float* row = a.x + blockIdx.x * D;
  double sum = 0;  // thread 0's
  for (int64_t d0 = 0; d0 < D; d0 += kTile) {
    const int64_t n = D - d0 < kTile ? D - d0 : kTile;
    for (int64_t k = threadIdx.x; k < n; k += kThreads) tile[k] = row[d0 + k];
    __syncthreads();
    if (threadIdx.x == 0) {
      for (int64_t k = 0; k < n; ++k) sum += static_cast<double>(tile[k]) * tile[k];
    }
    __syncthreads();
  }
  if (threadIdx.x == 0) rms = RmsOfSumOfSquares(sum, D, a.eps);
  __syncthreads();
  for (int64_t d = threadIdx.x; d < D; d += kThreads) QuantRmsNormStore(a, blockIdx.x * D + d, rms);
}

}  // namespace

void QuantRmsNormCuda(const QuantRmsNormArgs& args, void* stream) {
  if (args.rows == 0 || args.dim == 0) return;
  if (args.rows > 0x7fffffff) throw std::invalid_argument("quantized RMSNorm: more than 2^31 - 1 rows");
  QuantRmsNormKernel<<<static_cast<unsigned>(args.rows), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(args);
  const cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) throw std::runtime_error(std::string("quantized RMSNorm launch: ") + cudaGetErrorString(err));
}

}  // namespace layerscope
