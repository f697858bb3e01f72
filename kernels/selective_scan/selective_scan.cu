// CUDA selective scan, fp32: one thread per (batch, channel), the state in registers, a sequential loop over time.
// Threads of a block cover consecutive channels, so the loads of u, delta, z and the store of y are coalesced;
// B_t and C_t are the same for every channel of a batch and come from L1/L2 broadcast.
// The arithmetic follows SelectiveScanCpu operation for operation (fp32, same order); the only difference is
// the device's expf/__expf accuracy: expf (not the fast intrinsic) is used, within 2 ulp of the CPU's exp.
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

#include "kernels/selective_scan/selective_scan.h"

namespace layerscope {
namespace {

template <int kState>
__global__ void SelectiveScanKernel(SelectiveScanArgs a) {
  const int64_t e = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  const int64_t b = blockIdx.y;
  if (e >= a.channels) return;
  const int64_t E = a.channels, N = a.state, L = a.seqlen;
  float A[kState];
  float s[kState];
#pragma unroll
  for (int n = 0; n < kState; ++n) {
    A[n] = n < N ? a.A[e * N + n] : 0.0f;
    s[n] = 0.0f;
  }
  const float D = a.D[e];
  for (int64_t t = 0; t < L; ++t) {
    const int64_t row = b * L + t;
    const float u = a.u[row * E + e];
    const float delta = a.delta[row * E + e];
    const float z = a.z[row * E + e];
    const float* Bt = a.B + row * N;
    const float* Ct = a.C + row * N;
    const float du = delta * u;
    float acc = 0.0f;
#pragma unroll
    for (int n = 0; n < kState; ++n) {
      if (n < N) {
        s[n] = expf(delta * A[n]) * s[n] + du * Bt[n];
        acc += s[n] * Ct[n];
      }
    }
    const float out = acc + D * u;
    a.y[row * E + e] = out * (z / (1.0f + expf(-z)));
  }
}

}  // namespace

void SelectiveScanCuda(const SelectiveScanArgs& args) {
  if (args.state > kSelectiveScanMaxState) {
    throw std::invalid_argument("selective scan: d_state " + std::to_string(args.state) + " exceeds " +
                                std::to_string(kSelectiveScanMaxState));
  }
  if (args.batch == 0 || args.seqlen == 0 || args.channels == 0) return;
  constexpr int kThreads = 128;
  dim3 grid(static_cast<unsigned>((args.channels + kThreads - 1) / kThreads), static_cast<unsigned>(args.batch));
  if (args.state <= 16) {
    SelectiveScanKernel<16><<<grid, kThreads>>>(args);
  } else {
    SelectiveScanKernel<kSelectiveScanMaxState><<<grid, kThreads>>>(args);
  }
  const cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) throw std::runtime_error(std::string("selective scan launch: ") + cudaGetErrorString(err));
}

}  // namespace layerscope
