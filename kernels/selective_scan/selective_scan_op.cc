#include "kernels/selective_scan/selective_scan_op.h"

#include <ATen/Parallel.h>

#include "core/util/error.h"
#include "kernels/selective_scan/selective_scan.h"

#ifdef LAYERSCOPE_WITH_CUDA
#include <c10/cuda/CUDAGuard.h>

#include "kernels/common/cuda_stream.h"
#endif

namespace layerscope {
namespace {

struct Prepared {
  at::Tensor u, delta, A, B, C, D, z, y;
  SelectiveScanArgs args;
};

Prepared Prepare(at::Device device, const at::Tensor& u, const at::Tensor& delta, const at::Tensor& A,
                 const at::Tensor& Bm, const at::Tensor& Cm, const at::Tensor& D, const at::Tensor& z) {
  auto f32 = [&](const at::Tensor& t) { return t.to(device, at::kFloat).contiguous(); };
  Prepared p{f32(u), f32(delta), f32(A), f32(Bm), f32(Cm), f32(D), f32(z), {}, {}};
  const int64_t batch = p.u.size(0), seqlen = p.u.size(1), channels = p.u.size(2), state = p.A.size(1);
  auto check = [](bool ok, const char* what) {
    if (!ok) throw Error(ErrorKind::kInternal, std::string("selective scan: inconsistent shapes: ") + what);
  };
  check(p.u.dim() == 3 && p.delta.sizes() == p.u.sizes() && p.z.sizes() == p.u.sizes(), "u, delta, z");
  check(p.A.dim() == 2 && p.A.size(0) == channels, "A");
  check(p.B.dim() == 3 && p.B.size(0) == batch && p.B.size(1) == seqlen && p.B.size(2) == state, "B");
  check(p.C.sizes() == p.B.sizes(), "C");
  check(p.D.dim() == 1 && p.D.size(0) == channels, "D");
  p.y = at::empty_like(p.u);
  p.args = SelectiveScanArgs{batch,
                             seqlen,
                             channels,
                             state,
                             p.u.data_ptr<float>(),
                             p.delta.data_ptr<float>(),
                             p.A.data_ptr<float>(),
                             p.B.data_ptr<float>(),
                             p.C.data_ptr<float>(),
                             p.D.data_ptr<float>(),
                             p.z.data_ptr<float>(),
                             p.y.data_ptr<float>()};
  return p;
}

at::Tensor RunCpu(Prepared p) {
  // Batches are independent, so splitting them over threads cannot change a single bit of the result.
  at::parallel_for(0, p.args.batch, 1, [&](int64_t begin, int64_t end) { SelectiveScanCpu(p.args, begin, end); });
  return p.y;
}

}  // namespace

at::Tensor SelectiveScan(const at::Tensor& u, const at::Tensor& delta, const at::Tensor& A, const at::Tensor& Bm,
                         const at::Tensor& Cm, const at::Tensor& D, const at::Tensor& z) {
  Prepared p = Prepare(u.device(), u, delta, A, Bm, Cm, D, z);
  if (u.is_cuda()) {
#ifdef LAYERSCOPE_WITH_CUDA
    const c10::cuda::CUDAGuard guard(u.device());
    SelectiveScanCuda(p.args, CurrentCudaStream(p.u));
    return p.y;
#else
    throw Error(ErrorKind::kFailedPrecondition, "selective scan: this build has no CUDA kernels");
#endif
  }
  return RunCpu(std::move(p));
}

at::Tensor SelectiveScanReference(const at::Tensor& u, const at::Tensor& delta, const at::Tensor& A,
                                  const at::Tensor& Bm, const at::Tensor& Cm, const at::Tensor& D,
                                  const at::Tensor& z) {
  return RunCpu(Prepare(at::kCPU, u, delta, A, Bm, Cm, D, z));
}

}  // namespace layerscope
