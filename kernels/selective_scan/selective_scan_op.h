// SelectiveScan on tensors: checks shapes, makes inputs fp32 contiguous and dispatches to the CPU reference or
// the CUDA kernel by device. Internal to the core library (LibTorch types).
#pragma once

#include <ATen/ATen.h>

namespace layerscope {

// u, delta, z: [B, L, E]; A: [E, N]; Bm, Cm: [B, L, N]; D: [E]. Returns y [B, L, E] fp32 on the inputs' device.
at::Tensor SelectiveScan(const at::Tensor& u, const at::Tensor& delta, const at::Tensor& A, const at::Tensor& Bm,
                         const at::Tensor& Cm, const at::Tensor& D, const at::Tensor& z);

// The CPU reference on tensors of any device (copied to the CPU), for GPU tests: y on the CPU.
at::Tensor SelectiveScanReference(const at::Tensor& u, const at::Tensor& delta, const at::Tensor& A,
                                  const at::Tensor& Bm, const at::Tensor& Cm, const at::Tensor& D, const at::Tensor& z);

}  // namespace layerscope
