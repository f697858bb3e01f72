#include "kernels/hadamard/hadamard_quant_op.h"

#include <ATen/Parallel.h>

#include <atomic>
#include <cmath>
#include <cstdint>

#include "kernels/hadamard/hadamard_quant.h"

#ifdef LAYERSCOPE_WITH_CUDA
#include <c10/cuda/CUDAGuard.h>

#include "kernels/common/cuda_stream.h"
#endif

namespace layerscope {

at::Tensor HadamardQuant(const at::Tensor& y, int64_t block, float scale, bool wrap, at::Tensor* overflows) {
#ifndef LAYERSCOPE_WITH_CUDA
  if (y.device().type() != at::kCPU) {
    // No kernel in this build: the CPU reference on copies, the results moved back.
    at::Tensor count = at::zeros({}, at::kLong);
    const at::Tensor codes = HadamardQuant(y.cpu(), block, scale, wrap, overflows ? &count : nullptr);
    if (overflows) overflows->add_(count.to(overflows->device()));
    return codes.to(y.device());
  }
#endif
  const at::Tensor x = y.contiguous();
  at::Tensor codes = at::empty(x.sizes(), x.options().dtype(at::kChar));
  HadamardQuantArgs args;
  args.dim = x.size(-1);
  args.rows = args.dim == 0 ? 0 : x.numel() / args.dim;
  args.block = block;
  const uint32_t* rows = HadamardBlockRows(block);
  for (int64_t c = 0; c < block; ++c) args.block_rows[c] = rows[c];
  args.y = x.data_ptr<float>();
  args.norm = static_cast<float>(1.0 / std::sqrt(static_cast<double>(args.dim)));
  args.scale = scale;
  args.wrap = wrap;
  args.codes = codes.data_ptr<int8_t>();
#ifdef LAYERSCOPE_WITH_CUDA
  if (x.is_cuda()) {
    const c10::cuda::CUDAGuard guard(x.device());
    if (overflows) args.overflows = overflows->data_ptr<int64_t>();
    HadamardQuantCuda(args, CurrentCudaStream(x));
    return codes;
  }
#endif
  std::atomic<int64_t> count{0};
  at::parallel_for(0, args.rows, 1, [&](int64_t begin, int64_t end) { count += HadamardQuantCpu(args, begin, end); });
  if (overflows) overflows->add_(count.load());
  return codes;
}

}  // namespace layerscope
