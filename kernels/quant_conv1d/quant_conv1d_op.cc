#include "kernels/quant_conv1d/quant_conv1d_op.h"

#include "kernels/common/run_rows.h"
#include "kernels/quant_conv1d/quant_conv1d.h"

namespace layerscope {

at::Tensor QuantConv1dSilu(const at::Tensor& x_q, const at::Tensor& w_q, const at::Tensor& b_q, float ws, float s_b,
                           float s_out, at::ScalarType out) {
#ifndef LAYERSCOPE_WITH_CUDA
  if (x_q.device().type() != at::kCPU) {
    // No kernel in this build: the CPU reference on copies, the result moved back.
    return QuantConv1dSilu(x_q.cpu(), w_q.cpu(), b_q.cpu(), ws, s_b, s_out, out).to(x_q.device());
  }
#endif
  const at::Tensor x = x_q.contiguous(), w = w_q.contiguous(), b = b_q.contiguous();
  at::Tensor y = at::empty(x.sizes(), x.options().dtype(out));
  QuantConv1dArgs args;
  args.batch = x.size(0);
  args.seqlen = x.size(1);
  args.channels = x.size(2);
  args.width = w.size(1);
  args.x = x.data_ptr<int8_t>();
  args.w = w.data_ptr<int8_t>();
  args.bias = b.data_ptr<int8_t>();
  args.ws = ws;
  args.s_b = s_b;
  args.s_out = s_out;
  if (out == at::kChar) {
    args.y_int8 = y.data_ptr<int8_t>();
  } else {
    args.y_float = y.data_ptr<float>();
  }
  RunRows(x, args, args.batch * args.seqlen, QuantConv1dSiluCpu, LAYERSCOPE_CUDA_LAUNCHER(QuantConv1dSiluCuda));
  return y;
}

}  // namespace layerscope
