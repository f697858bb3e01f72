// CUDA quantized conv1d + SiLU: one thread per output element, channels fastest, so the int8 loads of x (K rows
// back) and the stores are coalesced. The arithmetic is QuantConv1dStore (quant_conv1d.h), bit-identical to the
// CPU reference (this file is compiled with -fmad=false).
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

#include "kernels/quant_conv1d/quant_conv1d.h"

namespace layerscope {
namespace {

constexpr int kThreads = 256;

__global__ void __launch_bounds__(kThreads) QuantConv1dSiluKernel(QuantConv1dArgs a) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(kThreads) + threadIdx.x;
  if (i >= a.batch * a.seqlen * a.channels) return;
  QuantConv1dStore(a, i / a.channels, i % a.channels);
}

}  // namespace

void QuantConv1dSiluCuda(const QuantConv1dArgs& args, void* stream) {
  const int64_t n = args.batch * args.seqlen * args.channels;
  if (n == 0) return;
  const int64_t blocks = (n + kThreads - 1) / kThreads;
  if (blocks > 0x7fffffff) throw std::invalid_argument("quantized conv1d: too many elements");
  QuantConv1dSiluKernel<<<static_cast<unsigned>(blocks), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(args);
  const cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) throw std::runtime_error(std::string("quantized conv1d launch: ") + cudaGetErrorString(err));
}

}  // namespace layerscope
