// LibTorch's current CUDA stream of a tensor's device, as the void* that the plain-C++ kernel launchers take.
// Internal to the core library (LibTorch types); only in CUDA builds.
#pragma once

#include <ATen/ATen.h>

namespace layerscope {

void* CurrentCudaStream(const at::Tensor& on);

}  // namespace layerscope
