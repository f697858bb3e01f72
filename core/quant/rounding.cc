#include "core/quant/rounding.h"

#include <cmath>
#include <limits>
#include <string>

#include "core/util/error.h"

namespace layerscope {
namespace {

void CheckFloating(const at::Tensor& x, const char* op, const char* arg) {
  if (!x.defined() || !at::isFloatingType(x.scalar_type())) {
    throw Error(ErrorKind::kInvalidArgument,
                std::string(op) + ": " + arg + " must be a floating tensor (fp16, bf16, fp32 or fp64)");
  }
}

void CheckScale(double scale, const char* op) {
  if (!(scale > 0) || !std::isfinite(scale) || !std::isfinite(static_cast<float>(scale))) {
    throw Error(ErrorKind::kInvalidArgument,
                std::string(op) + ": scale must be a positive finite fp32 value, got " + std::to_string(scale));
  }
}

// fp32(x) / fp32(scale) rounded with r. The divisor is a 0-dim tensor on x's device: ATen's CUDA division by a
// CPU scalar multiplies by the reciprocal instead, which is not the same fp32 result.
at::Tensor DivideAndRound(const at::Tensor& x, double scale, Rounding r) {
  const at::Tensor xf = x.to(at::kFloat);
  const at::Tensor divisor = at::full({}, static_cast<float>(scale), xf.options());
  return RoundTo(xf / divisor, r);
}

}  // namespace

const char* RoundingName(Rounding r) { return r == Rounding::kHalfToEven ? "rne" : "rhaz"; }

at::Tensor RoundTo(const at::Tensor& x, Rounding r) {
  CheckFloating(x, "RoundTo", "x");
  // at::round is nearbyint under the default rounding mode: half to even on the CPU and on CUDA.
  if (r == Rounding::kHalfToEven) return at::round(x);
  // RHAZ without the floor(|x| + 0.5) trap (0.49999997f + 0.5f rounds up to 1): x − trunc(x) is exact, so the
  // comparison with 0.5 decides the tie rule alone.
  const at::Tensor t = at::trunc(x);
  const at::Tensor away = (x - t).abs().ge(0.5).to(x.scalar_type());
  return t + at::sign(x) * away;
}

at::Tensor QuantizeInt8(const at::Tensor& x, double scale, Rounding r) {
  CheckFloating(x, "QuantizeInt8", "x");
  CheckScale(scale, "QuantizeInt8");
  return DivideAndRound(x, scale, r).clamp(-128, 127).to(at::kChar);
}

at::Tensor Dequantize(const at::Tensor& q, double scale) {
  if (!q.defined()) throw Error(ErrorKind::kInvalidArgument, "Dequantize: q is undefined");
  CheckScale(scale, "Dequantize");
  const at::Tensor qf = q.to(at::kFloat);
  return qf * at::full({}, static_cast<float>(scale), qf.options());
}

}  // namespace layerscope
