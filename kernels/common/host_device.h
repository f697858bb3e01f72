// LAYERSCOPE_HOST_DEVICE marks plain C++ functions that CUDA kernels call too: __host__ __device__ under nvcc,
// nothing for the host compiler, so one definition serves the CPU reference and the kernel.
#pragma once

#if defined(__CUDACC__)
#define LAYERSCOPE_HOST_DEVICE __host__ __device__
#else
#define LAYERSCOPE_HOST_DEVICE
#endif
