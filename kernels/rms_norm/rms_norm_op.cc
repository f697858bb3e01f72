#include "kernels/rms_norm/rms_norm_op.h"

#include <ATen/Parallel.h>

#include "kernels/rms_norm/rms_norm.h"

#ifdef LAYERSCOPE_WITH_CUDA
#include <c10/cuda/CUDAGuard.h>

#include "kernels/common/cuda_stream.h"
#endif

namespace layerscope {

at::Tensor QuantRmsNorm(const at::Tensor& s, float eps, float s_out, at::ScalarType out) {
#ifndef LAYERSCOPE_WITH_CUDA
  if (s.device().type() != at::kCPU) {
    // No kernel in this build: the CPU reference on a copy, the result moved back.
    return QuantRmsNorm(s.cpu(), eps, s_out, out).to(s.device());
  }
#endif
  const at::Tensor x = s.contiguous();
  at::Tensor y = at::empty(x.sizes(), x.options().dtype(out));
  QuantRmsNormArgs args;
  args.dim = x.size(-1);
  args.rows = x.numel() / args.dim;
  args.x = x.data_ptr<float>();
  args.eps = eps;
  args.s_out = s_out;
  if (out == at::kChar) {
    args.y_int8 = y.data_ptr<int8_t>();
  } else {
    args.y_float = y.data_ptr<float>();
  }
#ifdef LAYERSCOPE_WITH_CUDA
  if (x.is_cuda()) {
    const c10::cuda::CUDAGuard guard(x.device());
    QuantRmsNormCuda(args, CurrentCudaStream(x));
    return y;
  }
#endif
  at::parallel_for(0, args.rows, 1, [&](int64_t begin, int64_t end) { QuantRmsNormCpu(args, begin, end); });
  return y;
}

}  // namespace layerscope
