#include "core/quant/weight_quant.h"

#include <string>

#include "core/util/error.h"

namespace layerscope {
namespace {

void CheckWeight(const at::Tensor& w, const char* op) {
  if (!w.defined() || !at::isFloatingType(w.scalar_type()) || w.numel() == 0) {
    throw Error(ErrorKind::kInvalidArgument, std::string(op) + ": weight must be a non-empty floating tensor");
  }
}

// s = max(max|w|, 1e-5) / 127 and RNE(w / s) with every intermediate rounded to `arith` (fp16 or fp32). Each op
// is computed in fp32 and rounded once to `arith`: for fp16 that equals native fp16 arithmetic (fp32 holds more
// than twice fp16's precision, so the double rounding is harmless), works on every LibTorch's CPU kernels, and is
// what ATen's own fp16 ops do. Divisors are tensors on w's device so that no op turns a division into a
// multiplication by a reciprocal.
QuantizedWeight Quantize(const at::Tensor& w, at::ScalarType arith, bool clamp) {
  auto rounded = [arith](const at::Tensor& t) { return t.to(arith).to(at::kFloat); };
  const at::Tensor wf = rounded(w);
  const at::Tensor floor = rounded(at::full({}, 1e-5, wf.options()));
  const at::Tensor max = at::maximum(wf.abs().max(), floor);
  const at::Tensor s = rounded(max / at::full({}, 127.0, wf.options()));
  at::Tensor q = at::round(rounded(wf / s));
  if (clamp) q = q.clamp(-128, 127);
  return QuantizedWeight{q.to(at::kChar), s.item<double>()};
}

}  // namespace

QuantizedWeight QuantizeWeight(const at::Tensor& w, bool fp16_arithmetic) {
  CheckWeight(w, "QuantizeWeight");
  return Quantize(w, fp16_arithmetic ? at::kHalf : at::kFloat, /*clamp=*/true);
}

QuantizedWeight QuantizeParameterNoClamp(const at::Tensor& p) {
  CheckWeight(p, "QuantizeParameterNoClamp");
  return Quantize(p, at::kFloat, /*clamp=*/false);
}

}  // namespace layerscope
