#include "kernels/selective_scan/quant_scan_op.h"

#include <ATen/Parallel.h>

#include "kernels/selective_scan/quant_scan.h"

#ifdef LAYERSCOPE_WITH_CUDA
#include <c10/cuda/CUDAGuard.h>

#include "kernels/common/cuda_stream.h"
#endif

namespace layerscope {
namespace {

// Whether the CUDA kernels take this scan: CUDA tensors, a CUDA build, a d_state they keep in registers.
bool OnCudaKernels(const at::Tensor& u, int64_t state) {
#ifdef LAYERSCOPE_WITH_CUDA
  return u.is_cuda() && state <= kQuantScanMaxState;
#else
  return false;
#endif
}

}  // namespace

at::Tensor QuantScan(SsmArithmetic arithmetic, const at::Tensor& u_in, const at::Tensor& dt_raw_in,
                     const at::Tensor& dt_q_in, float dt_scale, const at::Tensor& dt_bias_in, const at::Tensor& A_in,
                     const at::Tensor& Bm_in, const at::Tensor& Cm_in, const at::Tensor& D_in, const at::Tensor& z_in,
                     at::Tensor* last_state) {
  if (u_in.device().type() != at::kCPU && !OnCudaKernels(u_in, A_in.size(1))) {
    // No kernel for these inputs: the CPU reference on copies, the results moved back.
    at::Tensor cpu_state;
    auto cpu = [](const at::Tensor& t) { return t.defined() ? t.to(at::kCPU) : t; };
    const at::Tensor y =
        QuantScan(arithmetic, cpu(u_in), cpu(dt_raw_in), cpu(dt_q_in), dt_scale, cpu(dt_bias_in), cpu(A_in), cpu(Bm_in),
                  cpu(Cm_in), cpu(D_in), cpu(z_in), last_state != nullptr ? &cpu_state : nullptr);
    if (last_state != nullptr) *last_state = cpu_state.to(u_in.device());
    return y.to(u_in.device());
  }
  const bool tabled = dt_q_in.defined();
  const at::Tensor u = u_in.contiguous(), dt_bias = dt_bias_in.contiguous(), A = A_in.contiguous(),
                   Bm = Bm_in.contiguous(), Cm = Cm_in.contiguous(), D = D_in.contiguous(), z = z_in.contiguous();
  const at::Tensor dt = tabled ? dt_q_in.contiguous() : dt_raw_in.contiguous();
  const int64_t batch = u.size(0), len = u.size(1), channels = u.size(2), state = A.size(1);
  at::Tensor y = at::empty_like(u);
  const at::Tensor final_state =
      last_state != nullptr ? at::zeros({batch, channels, state}, u.options()) : at::Tensor();
  // The tables: Δ [E][256], then the decays [E][256·N] (layouts in quant_scan.h).
  const at::Tensor tables = tabled ? at::empty({channels * kQuantScanCodes * (1 + state)}, u.options()) : at::Tensor();
  QuantScanArgs args;
  args.batch = batch;
  args.seqlen = len;
  args.channels = channels;
  args.state = state;
  args.u = u.data_ptr<float>();
  args.dt_bias = dt_bias.data_ptr<float>();
  args.A = A.data_ptr<float>();
  args.B = Bm.data_ptr<float>();
  args.C = Cm.data_ptr<float>();
  args.D = D.data_ptr<float>();
  args.z = z.data_ptr<float>();
  args.y = y.data_ptr<float>();
  args.last_state = last_state != nullptr ? final_state.data_ptr<float>() : nullptr;
  if (tabled) {
    args.dt_q = dt.data_ptr<int8_t>();
    args.dt_scale = dt_scale;
    args.delta_table = tables.data_ptr<float>();
    args.decay_table = args.delta_table + channels * kQuantScanCodes;
  } else {
    args.dt_raw = dt.data_ptr<float>();
  }
  const bool kernel_variant = arithmetic == SsmArithmetic::kKernel;
  if (OnCudaKernels(u, state)) {
#ifdef LAYERSCOPE_WITH_CUDA
    const c10::cuda::CUDAGuard guard(u.device());
    void* stream = CurrentCudaStream(u);
    if (tabled) (kernel_variant ? QuantScanKernelTablesCuda : QuantScanFrameworkTablesCuda)(args, stream);
    void (*scan)(const QuantScanArgs&, void*) = QuantScanFrameworkCuda;
    if (kernel_variant) scan = QuantScanKernelCuda;
    if (arithmetic == SsmArithmetic::kReference) scan = QuantScanReferenceCuda;
    scan(args, stream);
#endif
  } else {
    // Channels, then rows (batch, channel), are independent: splitting them over threads cannot change a bit.
    if (tabled) {
      at::parallel_for(0, channels, 1, [&](int64_t begin, int64_t end) {
        (kernel_variant ? QuantScanKernelTablesCpu : QuantScanFrameworkTablesCpu)(args, begin, end);
      });
    }
    void (*scan)(const QuantScanArgs&, int64_t, int64_t) = QuantScanFrameworkCpu;
    if (kernel_variant) scan = QuantScanKernelCpu;
    if (arithmetic == SsmArithmetic::kReference) scan = QuantScanReferenceCpu;
    at::parallel_for(0, batch * channels, 16, [&](int64_t begin, int64_t end) { scan(args, begin, end); });
  }
  if (last_state != nullptr) *last_state = final_state;
  return y;
}

}  // namespace layerscope
