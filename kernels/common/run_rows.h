// RunRows: where an op over independent rows runs. CUDA tensors in a CUDA build: the op's CUDA launcher, on the
// tensor's device and LibTorch's current stream. Otherwise: its CPU reference, the rows split over LibTorch's
// threads (each row is computed alone, so the split changes no bit). Internal to the core library (LibTorch types).
//
// The CUDA launchers exist only in CUDA builds: name one with LAYERSCOPE_CUDA_LAUNCHER, which is null in the others.
#pragma once

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <cstdint>

#ifdef LAYERSCOPE_WITH_CUDA
#include <c10/cuda/CUDAGuard.h>

#include "kernels/common/cuda_stream.h"
#define LAYERSCOPE_CUDA_LAUNCHER(launcher) (launcher)
#else
#define LAYERSCOPE_CUDA_LAUNCHER(launcher) nullptr
#endif

namespace layerscope {

// The launchers' types, taken from Args (deduced from `args` alone, so that a null launcher needs no cast).
template <typename Args>
struct RowsLaunchers {
  using Cpu = void (*)(const Args&, int64_t, int64_t);
  using Cuda = void (*)(const Args&, void*);
};

template <typename Args>
void RunRows(const at::Tensor& on, const Args& args, int64_t rows, typename RowsLaunchers<Args>::Cpu cpu,
             typename RowsLaunchers<Args>::Cuda cuda) {
#ifdef LAYERSCOPE_WITH_CUDA
  if (on.is_cuda()) {
    const c10::cuda::CUDAGuard guard(on.device());
    cuda(args, CurrentCudaStream(on));
    return;
  }
#else
  (void)cuda;
#endif
  at::parallel_for(0, rows, 1, [&](int64_t begin, int64_t end) { cpu(args, begin, end); });
}

}  // namespace layerscope
