#include "core/quant/qops.h"

#include <torch/version.h>

#include <algorithm>
#include <cmath>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "core/quant/hadamard.h"
#include "core/quant/rounding.h"
#include "core/util/error.h"
#include "kernels/hadamard/hadamard_quant_op.h"
#include "kernels/quant_conv1d/quant_conv1d_op.h"
#include "kernels/rms_norm/rms_norm_op.h"
#include "kernels/selective_scan/quant_scan.h"
#include "kernels/selective_scan/quant_scan_op.h"
#include "kernels/w8a8_epilogue/w8a8_epilogue_op.h"

namespace layerscope {
namespace {

std::string Describe(const at::Tensor& t) {
  if (!t.defined()) return "undefined";
  std::ostringstream s;
  s << t.scalar_type() << " " << t.sizes();
  return s.str();
}

void Require(bool ok, const char* op, const char* arg, const std::string& expected, const at::Tensor& got) {
  if (!ok) {
    throw Error(ErrorKind::kInvalidArgument,
                std::string(op) + ": " + arg + " must be " + expected + ", got " + Describe(got));
  }
}

void RequireScale(double scale, const char* op, const char* arg) {
  // As fp32, the precision the kernels use: a positive double below fp32's smallest subnormal would become 0.
  const float as_fp32 = static_cast<float>(scale);
  if (!(as_fp32 > 0) || !std::isfinite(as_fp32)) {
    throw Error(ErrorKind::kInvalidArgument,
                std::string(op) + ": " + arg + " must be a positive finite fp32 scale, got " + std::to_string(scale));
  }
}

bool IsInt8(const at::Tensor& t) { return t.defined() && t.scalar_type() == at::kChar; }

void CheckLinear(const char* op, const at::Tensor& x_q, const at::Tensor& w_q) {
  Require(IsInt8(x_q) && x_q.dim() >= 1, op, "x_q", "int8 [..., in]", x_q);
  Require(IsInt8(w_q) && w_q.dim() == 2 && w_q.size(1) == x_q.size(-1), op, "w_q",
          "int8 [out, " + std::to_string(x_q.size(-1)) + "]", w_q);
  Require(w_q.device() == x_q.device(), op, "w_q", "on x_q's device", w_q);
}

#if defined(LAYERSCOPE_WITH_CUDA) && TORCH_VERSION_MAJOR >= 2
int64_t RoundUp(int64_t v, int64_t multiple) { return (v + multiple - 1) / multiple * multiple; }

// int8 × int8 → int32 on the tensor cores (at::_int_mm, exact: |acc| ≤ 2^14·in < 2^31) for x_rows [rows, in].
// _int_mm wants more than 16 rows, and in and out positive multiples of 8: zero rows and columns padded in where
// they are not add nothing. Returns [rows, out]; where padded, a view into the padded result (row stride: the padded
// out), which the epilogue reads in place, without a copy.
at::Tensor Int8MatmulCuda(const at::Tensor& x_rows, const at::Tensor& w_q) {
  const int64_t in = x_rows.size(1), out = w_q.size(0);
  at::Tensor x = x_rows;
  at::Tensor w = w_q;
  const int64_t rows = x.size(0);
  const int64_t rows_padded = std::max<int64_t>(rows, 17), in_padded = RoundUp(std::max<int64_t>(in, 1), 8),
                out_padded = RoundUp(std::max<int64_t>(out, 1), 8);
  if (rows_padded != rows || in_padded != in) x = at::constant_pad_nd(x, {0, in_padded - in, 0, rows_padded - rows});
  if (out_padded != out || in_padded != in) w = at::constant_pad_nd(w, {0, in_padded - in, 0, out_padded - out});
  at::Tensor acc = at::_int_mm(x.contiguous(), w.contiguous().t());
  if (rows_padded != rows || out_padded != out) acc = acc.narrow(0, 0, rows).narrow(1, 0, out);
  return acc;
}
#endif

// The exact accumulator of x_q's rows (its leading dimensions flattened) [rows, out]: Int8MatmulCuda's on CUDA
// with LibTorch ≥ 2, else an fp64 matrix product (contiguous).
at::Tensor Int8MatmulRows(const at::Tensor& x_q, const at::Tensor& w_q) {
  int64_t rows = 1;
  for (int64_t d = 0; d + 1 < x_q.dim(); ++d) rows *= x_q.size(d);
  const at::Tensor x_rows = x_q.reshape({rows, x_q.size(-1)});
#if defined(LAYERSCOPE_WITH_CUDA) && TORCH_VERSION_MAJOR >= 2
  if (x_q.is_cuda()) return Int8MatmulCuda(x_rows, w_q);
#endif
  return at::matmul(x_rows.to(at::kDouble), w_q.to(at::kDouble).t()).to(at::kInt);
}

// The linear's output shape: x_q's leading dimensions, then out.
std::vector<int64_t> LinearShape(const at::Tensor& x_q, const at::Tensor& w_q) {
  std::vector<int64_t> shape = x_q.sizes().vec();
  shape.back() = w_q.size(0);
  return shape;
}

// Checks the conv's arguments (the scales as fp32: the kernel's precision).
void CheckConv(const char* op, const at::Tensor& x_q, const at::Tensor& w_q, const at::Tensor& b_q, double s_x,
               double s_w, double s_b) {
  Require(IsInt8(x_q) && x_q.dim() == 3, op, "x_q", "int8 [B, L, E]", x_q);
  const int64_t e = x_q.size(2);
  Require(IsInt8(w_q) && w_q.dim() == 2 && w_q.size(0) == e && w_q.size(1) >= 1, op, "w_q",
          "int8 [" + std::to_string(e) + ", K]", w_q);
  Require(IsInt8(b_q) && b_q.dim() == 1 && b_q.size(0) == e, op, "b_q", "int8 [" + std::to_string(e) + "]", b_q);
  Require(w_q.device() == x_q.device(), op, "w_q", "on x_q's device", w_q);
  Require(b_q.device() == x_q.device(), op, "b_q", "on x_q's device", b_q);
  RequireScale(s_x, op, "s_x");
  RequireScale(s_w, op, "s_w");
  RequireScale(s_b, op, "s_b");
}

void CheckNormInput(const char* op, const at::Tensor& s, double eps) {
  Require(s.defined() && s.scalar_type() == at::kFloat && s.dim() >= 1 && s.size(-1) >= 1, op, "s",
          "fp32 [..., D] with D ≥ 1", s);
  if (!(eps >= 0) || !std::isfinite(eps)) {
    throw Error(ErrorKind::kInvalidArgument, std::string(op) + ": eps must be finite and ≥ 0");
  }
}

}  // namespace

at::Tensor Int8MatmulInt32(const at::Tensor& x_q, const at::Tensor& w_q) {
  CheckLinear("Int8MatmulInt32", x_q, w_q);
  return Int8MatmulRows(x_q, w_q).contiguous().view(LinearShape(x_q, w_q));
}

at::Tensor W8A8LinearInt8(const at::Tensor& x_q, const at::Tensor& w_q, double alpha) {
  CheckLinear("W8A8LinearInt8", x_q, w_q);
  RequireScale(alpha, "W8A8LinearInt8", "alpha");
  return W8A8Epilogue(Int8MatmulRows(x_q, w_q), static_cast<float>(alpha), at::kChar).view(LinearShape(x_q, w_q));
}

at::Tensor W8A8LinearFloat(const at::Tensor& x_q, const at::Tensor& w_q, double scale, at::ScalarType out) {
  CheckLinear("W8A8LinearFloat", x_q, w_q);
  RequireScale(scale, "W8A8LinearFloat", "scale");
  if (out != at::kHalf && out != at::kFloat) {
    throw Error(ErrorKind::kInvalidArgument, "W8A8LinearFloat: out must be fp16 or fp32");
  }
  return W8A8Epilogue(Int8MatmulRows(x_q, w_q), static_cast<float>(scale), out).view(LinearShape(x_q, w_q));
}

at::Tensor QConv1dSiluInt8(const at::Tensor& x_q, const at::Tensor& w_q, const at::Tensor& b_q, double s_x, double s_w,
                           double s_b, double s_out) {
  CheckConv("QConv1dSiluInt8", x_q, w_q, b_q, s_x, s_w, s_b);
  RequireScale(s_out, "QConv1dSiluInt8", "s_out");
  return QuantConv1dSilu(x_q, w_q, b_q, static_cast<float>(s_w) * static_cast<float>(s_x), static_cast<float>(s_b),
                         static_cast<float>(s_out), at::kChar);
}

at::Tensor QConv1dSiluFloat(const at::Tensor& x_q, const at::Tensor& w_q, const at::Tensor& b_q, double s_x, double s_w,
                            double s_b) {
  CheckConv("QConv1dSiluFloat", x_q, w_q, b_q, s_x, s_w, s_b);
  return QuantConv1dSilu(x_q, w_q, b_q, static_cast<float>(s_w) * static_cast<float>(s_x), static_cast<float>(s_b),
                         1.0f, at::kFloat);
}

at::Tensor QRmsNormFloat(const at::Tensor& s, double eps) {
  CheckNormInput("QRmsNormFloat", s, eps);
  return QuantRmsNorm(s, static_cast<float>(eps), 1.0f, at::kFloat);
}

at::Tensor QRmsNormInt8(const at::Tensor& s, double eps, double s_out) {
  CheckNormInput("QRmsNormInt8", s, eps);
  RequireScale(s_out, "QRmsNormInt8", "s_out");
  return QuantRmsNorm(s, static_cast<float>(eps), static_cast<float>(s_out), at::kChar);
}

at::Tensor HadamardQuantInt8(const at::Tensor& y, double s_oin, Int8Overflow overflow, at::Tensor* overflows) {
  constexpr const char* op = "HadamardQuantInt8";
  const bool float_type = y.defined() && (y.scalar_type() == at::kFloat || y.scalar_type() == at::kHalf ||
                                          y.scalar_type() == at::kBFloat16);
  Require(float_type && y.dim() >= 1 && HadamardSupported(y.size(-1)), op, "y",
          "fp32, fp16 or bf16 [..., d] with d = b·2^k, b in {1, 12, 20, 28}", y);
  RequireScale(s_oin, op, "s_oin");
  if (overflows != nullptr) {
    if (!overflows->defined()) *overflows = at::zeros({}, y.options().dtype(at::kLong));
    Require(overflows->scalar_type() == at::kLong && overflows->dim() == 0 && overflows->device() == y.device(), op,
            "overflows", "an int64 0-dim tensor on y's device", *overflows);
  }
  return HadamardQuant(y.to(at::kFloat), HadamardBaseBlock(y.size(-1)), static_cast<float>(s_oin),
                       overflow == Int8Overflow::kWrap, overflows);
}

at::Tensor SsmScan(const SsmInputs& in, SsmArithmetic arithmetic, at::Tensor* last_state) {
  constexpr const char* op = "SsmScan";
  auto is_f32 = [](const at::Tensor& t) { return t.defined() && t.scalar_type() == at::kFloat; };
  Require(is_f32(in.u) && in.u.dim() == 3, op, "u", "fp32 [B, L, E]", in.u);
  const int64_t batch = in.u.size(0), len = in.u.size(1), e = in.u.size(2);
  const std::string dims = "[" + std::to_string(batch) + ", " + std::to_string(len) + ", " + std::to_string(e) + "]";
  const std::string ble = "fp32 " + dims;
  const bool codes = in.dt_q.defined();
  if (codes) {
    Require(IsInt8(in.dt_q) && in.dt_q.sizes() == in.u.sizes(), op, "dt_q", "int8 " + dims, in.dt_q);
    Require(!in.dt_raw.defined(), op, "dt_raw", "undefined when dt_q is given (the scan dequantizes dt_q itself)",
            in.dt_raw);
    RequireScale(in.dt_scale, op, "dt_scale");
  } else {
    Require(is_f32(in.dt_raw) && in.dt_raw.sizes() == in.u.sizes(), op, "dt_raw", ble, in.dt_raw);
  }
  Require(is_f32(in.z) && in.z.sizes() == in.u.sizes(), op, "z", ble, in.z);
  Require(is_f32(in.A) && in.A.dim() == 2 && in.A.size(0) == e, op, "A", "fp32 [" + std::to_string(e) + ", N]", in.A);
  const int64_t n = in.A.size(1);
  const std::string bln =
      "fp32 [" + std::to_string(batch) + ", " + std::to_string(len) + ", " + std::to_string(n) + "]";
  Require(is_f32(in.Bm) && in.Bm.dim() == 3 && in.Bm.size(0) == batch && in.Bm.size(1) == len && in.Bm.size(2) == n, op,
          "Bm", bln, in.Bm);
  Require(is_f32(in.Cm) && in.Cm.sizes() == in.Bm.sizes(), op, "Cm", bln, in.Cm);
  const std::string vec_e = "fp32 [" + std::to_string(e) + "]";
  Require(is_f32(in.dt_bias) && in.dt_bias.dim() == 1 && in.dt_bias.size(0) == e, op, "dt_bias", vec_e, in.dt_bias);
  Require(is_f32(in.D) && in.D.dim() == 1 && in.D.size(0) == e, op, "D", vec_e, in.D);
  const std::vector<std::pair<const char*, const at::Tensor*>> on_u_device = {
      {codes ? "dt_q" : "dt_raw", codes ? &in.dt_q : &in.dt_raw},
      {"z", &in.z},
      {"A", &in.A},
      {"Bm", &in.Bm},
      {"Cm", &in.Cm},
      {"dt_bias", &in.dt_bias},
      {"D", &in.D}};
  for (const auto& [arg, t] : on_u_device) {
    if (t->device() != in.u.device()) {
      throw Error(ErrorKind::kInvalidArgument, std::string(op) + ": " + arg + " must be on u's device (" +
                                                   in.u.device().str() + "), got " + t->device().str());
    }
  }

  if (codes && !QuantScanTablesPay(batch, len)) {
    // Too few steps per channel for the tables (quant_scan.h): the codes' values, computed per element.
    return QuantScan(arithmetic, in.u, Dequantize(in.dt_q, in.dt_scale), at::Tensor(), 0.0f, in.dt_bias, in.A, in.Bm,
                     in.Cm, in.D, in.z, last_state);
  }
  return QuantScan(arithmetic, in.u, in.dt_raw, in.dt_q, static_cast<float>(in.dt_scale), in.dt_bias, in.A, in.Bm,
                   in.Cm, in.D, in.z, last_state);
}

}  // namespace layerscope
