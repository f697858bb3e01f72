#include "kernels/rms_norm/rms_norm_op.h"

#include "kernels/common/run_rows.h"
#include "kernels/rms_norm/rms_norm.h"

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
  RunRows(x, args, args.rows, QuantRmsNormCpu, LAYERSCOPE_CUDA_LAUNCHER(QuantRmsNormCuda));
  return y;
}

}  // namespace layerscope
