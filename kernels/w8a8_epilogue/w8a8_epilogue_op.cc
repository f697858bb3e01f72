#include "kernels/w8a8_epilogue/w8a8_epilogue_op.h"

#include <cmath>
#include <sstream>
#include <string>

#include "core/util/error.h"
#include "kernels/common/run_rows.h"
#include "kernels/w8a8_epilogue/w8a8_epilogue.h"

namespace layerscope {
namespace {

void CheckEpilogue(const at::Tensor& acc, float scale, at::ScalarType out) {
  if (!acc.defined() || acc.scalar_type() != at::kInt || acc.dim() != 2) {
    std::ostringstream got;
    if (acc.defined()) {
      got << acc.scalar_type() << " " << acc.sizes();
    } else {
      got << "undefined";
    }
    throw Error(ErrorKind::kInvalidArgument, "W8A8 epilogue: acc must be int32 [rows, cols], got " + got.str());
  }
  if (out != at::kChar && out != at::kHalf && out != at::kFloat) {
    throw Error(ErrorKind::kInvalidArgument,
                std::string("W8A8 epilogue: out must be int8, fp16 or fp32, got ") + c10::toString(out));
  }
  if (!(scale > 0) || !std::isfinite(scale)) {
    throw Error(ErrorKind::kInvalidArgument,
                "W8A8 epilogue: scale must be positive and finite, got " + std::to_string(scale));
  }
}

}  // namespace

at::Tensor W8A8Epilogue(const at::Tensor& acc, float scale, at::ScalarType out) {
  CheckEpilogue(acc, scale, out);
#ifndef LAYERSCOPE_WITH_CUDA
  if (acc.device().type() != at::kCPU) {
    // No kernel in this build: the CPU reference on a copy, the result moved back.
    return W8A8Epilogue(acc.cpu(), scale, out).to(acc.device());
  }
#endif
  // Columns must be contiguous (a single column's stride is never used); rows may be any distance apart.
  const at::Tensor a = acc.size(1) <= 1 || acc.stride(1) == 1 ? acc : acc.contiguous();
  at::Tensor y = at::empty(a.sizes(), a.options().dtype(out));
  W8A8EpilogueArgs args;
  args.rows = a.size(0);
  args.cols = a.size(1);
  args.acc = a.data_ptr<int32_t>();
  args.acc_row_stride = a.stride(0);
  args.scale = scale;
  if (out == at::kChar) {
    args.y_int8 = y.data_ptr<int8_t>();
  } else if (out == at::kHalf) {
    args.y_half = reinterpret_cast<uint16_t*>(y.data_ptr<at::Half>());
  } else {
    args.y_float = y.data_ptr<float>();
  }
  RunRows(a, args, args.rows, W8A8EpilogueCpu, LAYERSCOPE_CUDA_LAUNCHER(W8A8EpilogueCuda));
  return y;
}

}  // namespace layerscope
