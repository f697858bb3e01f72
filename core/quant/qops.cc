#include "core/quant/qops.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <sstream>
#include <string>

#include "core/util/error.h"
#include "kernels/selective_scan/quant_scan.h"

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
  if (!(scale > 0) || !std::isfinite(static_cast<float>(scale))) {
    throw Error(ErrorKind::kInvalidArgument,
                std::string(op) + ": " + arg + " must be a positive finite fp32 scale, got " + std::to_string(scale));
  }
}

bool IsInt8(const at::Tensor& t) { return t.defined() && t.scalar_type() == at::kChar; }

// A 0-dim fp32 tensor on t's device: scalar operands stay on the device and stay fp32.
at::Tensor Fp32Scalar(double v, const at::Tensor& t) {
  return at::full({}, static_cast<float>(v), t.options().dtype(at::kFloat));
}

void CheckLinear(const char* op, const at::Tensor& x_q, const at::Tensor& w_q) {
  Require(IsInt8(x_q) && x_q.dim() >= 1, op, "x_q", "int8 [..., in]", x_q);
  Require(IsInt8(w_q) && w_q.dim() == 2 && w_q.size(1) == x_q.size(-1), op, "w_q",
          "int8 [out, " + std::to_string(x_q.size(-1)) + "]", w_q);
  Require(w_q.device() == x_q.device(), op, "w_q", "on x_q's device", w_q);
}

struct ConvArgs {
  at::Tensor x, w, b;  // CPU, contiguous, int8
  int64_t batch, len, channels, width;
};

ConvArgs CheckConv(const char* op, const at::Tensor& x_q, const at::Tensor& w_q, const at::Tensor& b_q, double s_x,
                   double s_w, double s_b) {
  Require(IsInt8(x_q) && x_q.dim() == 3, op, "x_q", "int8 [B, L, E]", x_q);
  const int64_t e = x_q.size(2);
  Require(IsInt8(w_q) && w_q.dim() == 2 && w_q.size(0) == e && w_q.size(1) >= 1, op, "w_q",
          "int8 [" + std::to_string(e) + ", K]", w_q);
  Require(IsInt8(b_q) && b_q.dim() == 1 && b_q.size(0) == e, op, "b_q", "int8 [" + std::to_string(e) + "]", b_q);
  RequireScale(s_x, op, "s_x");
  RequireScale(s_w, op, "s_w");
  RequireScale(s_b, op, "s_b");
  auto cpu = [](const at::Tensor& t) { return t.to(at::kCPU).contiguous(); };
  return ConvArgs{cpu(x_q), cpu(w_q), cpu(b_q), x_q.size(0), x_q.size(1), e, w_q.size(1)};
}

// Calls out(index, silu_value) for every element of the conv's output, in the order of MODES.md §2.3 step 3.
template <typename Out>
void ConvSilu(const ConvArgs& c, double s_x, double s_w, double s_b, Out out) {
  const int8_t* x = c.x.data_ptr<int8_t>();
  const int8_t* w = c.w.data_ptr<int8_t>();
  const int8_t* bq = c.b.data_ptr<int8_t>();
  const float ws = static_cast<float>(s_w) * static_cast<float>(s_x);
  const int64_t L = c.len, E = c.channels, K = c.width;
  at::parallel_for(0, c.batch * L, 1, [&](int64_t begin, int64_t end) {
    for (int64_t bt = begin; bt < end; ++bt) {
      const int64_t t = bt % L, row0 = bt - t;  // row0 = b·L
      for (int64_t e = 0; e < E; ++e) {
        int32_t acc = 0;
        for (int64_t k = std::max<int64_t>(0, K - 1 - t); k < K; ++k) {
          acc += static_cast<int32_t>(w[e * K + k]) * x[(row0 + t - K + 1 + k) * E + e];
        }
        const float bias = static_cast<float>(s_b) * static_cast<float>(bq[e]);
        const float v = ws * static_cast<float>(acc) + bias;
        out(bt * E + e, v / (1.0f + std::exp(-v)));
      }
    }
  });
}

// fp32 RMSNorm rows of s (CPU, contiguous): out(index, y).
template <typename Out>
void RmsNorm(const at::Tensor& s, double eps, Out out) {
  const float* x = s.data_ptr<float>();
  const int64_t D = s.size(-1), rows = D == 0 ? 0 : s.numel() / D;
  const float eps_f = static_cast<float>(eps);
  at::parallel_for(0, rows, 1, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const float* row = x + r * D;
      double sum = 0;
      for (int64_t d = 0; d < D; ++d) sum += static_cast<double>(row[d]) * row[d];
      const float ms = static_cast<float>(sum / static_cast<double>(D));
      const float rms = std::sqrt(ms + eps_f);
      for (int64_t d = 0; d < D; ++d) out(r * D + d, row[d] / rms);
    }
  });
}

at::Tensor CheckNormInput(const char* op, const at::Tensor& s, double eps) {
  Require(s.defined() && s.scalar_type() == at::kFloat && s.dim() >= 1 && s.size(-1) >= 1, op, "s",
          "fp32 [..., D] with D ≥ 1", s);
  if (!(eps >= 0) || !std::isfinite(eps)) {
    throw Error(ErrorKind::kInvalidArgument, std::string(op) + ": eps must be finite and ≥ 0");
  }
  return s.to(at::kCPU).contiguous();
}

int8_t ClampToInt8(float v) { return static_cast<int8_t>(std::min(127.0f, std::max(-128.0f, v))); }

}  // namespace

at::Tensor Int8MatmulInt32(const at::Tensor& x_q, const at::Tensor& w_q) {
  CheckLinear("Int8MatmulInt32", x_q, w_q);
  return at::matmul(x_q.to(at::kDouble), w_q.to(at::kDouble).t()).to(at::kInt);
}

at::Tensor W8A8LinearInt8(const at::Tensor& x_q, const at::Tensor& w_q, double alpha) {
  CheckLinear("W8A8LinearInt8", x_q, w_q);
  RequireScale(alpha, "W8A8LinearInt8", "alpha");
  const at::Tensor acc = Int8MatmulInt32(x_q, w_q).to(at::kFloat);
  return at::round(acc * Fp32Scalar(alpha, acc)).clamp(-128, 127).to(at::kChar);
}

at::Tensor W8A8LinearFloat(const at::Tensor& x_q, const at::Tensor& w_q, double scale, at::ScalarType out) {
  CheckLinear("W8A8LinearFloat", x_q, w_q);
  RequireScale(scale, "W8A8LinearFloat", "scale");
  if (out != at::kHalf && out != at::kFloat) {
    throw Error(ErrorKind::kInvalidArgument, "W8A8LinearFloat: out must be fp16 or fp32");
  }
  const at::Tensor acc = Int8MatmulInt32(x_q, w_q).to(at::kFloat);
  return (acc * Fp32Scalar(scale, acc)).to(out);
}

at::Tensor QConv1dSiluInt8(const at::Tensor& x_q, const at::Tensor& w_q, const at::Tensor& b_q, double s_x, double s_w,
                           double s_b, double s_out) {
  const ConvArgs c = CheckConv("QConv1dSiluInt8", x_q, w_q, b_q, s_x, s_w, s_b);
  RequireScale(s_out, "QConv1dSiluInt8", "s_out");
  at::Tensor y = at::empty_like(c.x);
  int8_t* out = y.data_ptr<int8_t>();
  const float so = static_cast<float>(s_out);
  // std::round is RHAZ (MODES.md §2: the conv kernel's rounding).
  ConvSilu(c, s_x, s_w, s_b, [&](int64_t i, float v) { out[i] = ClampToInt8(std::round(v / so)); });
  return y.to(x_q.device());
}

at::Tensor QConv1dSiluFloat(const at::Tensor& x_q, const at::Tensor& w_q, const at::Tensor& b_q, double s_x, double s_w,
                            double s_b) {
  const ConvArgs c = CheckConv("QConv1dSiluFloat", x_q, w_q, b_q, s_x, s_w, s_b);
  at::Tensor y = at::empty(c.x.sizes(), c.x.options().dtype(at::kFloat));
  float* out = y.data_ptr<float>();
  ConvSilu(c, s_x, s_w, s_b, [&](int64_t i, float v) { out[i] = v; });
  return y.to(x_q.device());
}

at::Tensor QRmsNormFloat(const at::Tensor& s, double eps) {
  const at::Tensor x = CheckNormInput("QRmsNormFloat", s, eps);
  at::Tensor y = at::empty_like(x);
  float* out = y.data_ptr<float>();
  RmsNorm(x, eps, [&](int64_t i, float v) { out[i] = v; });
  return y.to(s.device());
}

at::Tensor QRmsNormInt8(const at::Tensor& s, double eps, double s_out) {
  const at::Tensor x = CheckNormInput("QRmsNormInt8", s, eps);
  RequireScale(s_out, "QRmsNormInt8", "s_out");
  at::Tensor y = at::empty(x.sizes(), x.options().dtype(at::kChar));
  int8_t* out = y.data_ptr<int8_t>();
  const float so = static_cast<float>(s_out);
  // std::nearbyint under the default rounding mode is RNE (MODES.md §2.3 step 1).
  RmsNorm(x, eps, [&](int64_t i, float v) { out[i] = ClampToInt8(std::nearbyint(v / so)); });
  return y.to(s.device());
}

at::Tensor SsmScan(const SsmInputs& in, SsmArithmetic arithmetic, at::Tensor* last_state) {
  constexpr const char* op = "SsmScan";
  auto is_f32 = [](const at::Tensor& t) { return t.defined() && t.scalar_type() == at::kFloat; };
  Require(is_f32(in.u) && in.u.dim() == 3, op, "u", "fp32 [B, L, E]", in.u);
  const int64_t batch = in.u.size(0), len = in.u.size(1), e = in.u.size(2);
  const std::string ble =
      "fp32 [" + std::to_string(batch) + ", " + std::to_string(len) + ", " + std::to_string(e) + "]";
  Require(is_f32(in.dt_raw) && in.dt_raw.sizes() == in.u.sizes(), op, "dt_raw", ble, in.dt_raw);
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
  for (const at::Tensor* t : {&in.dt_raw, &in.z, &in.A, &in.Bm, &in.Cm, &in.dt_bias, &in.D}) {
    Require(t->device() == in.u.device(), op, "every input", "on u's device", *t);
  }

  // CPU loops on every device for now: CUDA inputs are copied to the CPU and the result copied back.
  auto cpu = [](const at::Tensor& t) { return t.to(at::kCPU).contiguous(); };
  const at::Tensor u = cpu(in.u), dt = cpu(in.dt_raw), dt_bias = cpu(in.dt_bias), A = cpu(in.A), Bm = cpu(in.Bm),
                   Cm = cpu(in.Cm), D = cpu(in.D), z = cpu(in.z);
  at::Tensor y = at::empty_like(u);
  at::Tensor state = at::zeros({batch, e, n}, u.options());
  QuantScanArgs args;
  args.batch = batch;
  args.seqlen = len;
  args.channels = e;
  args.state = n;
  args.u = u.data_ptr<float>();
  args.dt_raw = dt.data_ptr<float>();
  args.dt_bias = dt_bias.data_ptr<float>();
  args.A = A.data_ptr<float>();
  args.B = Bm.data_ptr<float>();
  args.C = Cm.data_ptr<float>();
  args.D = D.data_ptr<float>();
  args.z = z.data_ptr<float>();
  args.y = y.data_ptr<float>();
  args.last_state = state.data_ptr<float>();
  void (*scan)(const QuantScanArgs&, int64_t, int64_t) = QuantScanFrameworkCpu;
  if (arithmetic == SsmArithmetic::kKernel) scan = QuantScanKernelCpu;
  if (arithmetic == SsmArithmetic::kReference) scan = QuantScanReferenceCpu;
  // Rows (batch, channel) are independent: splitting them over threads cannot change a bit.
  at::parallel_for(0, batch * e, 16, [&](int64_t begin, int64_t end) { scan(args, begin, end); });
  if (last_state != nullptr) *last_state = state.to(in.u.device());
  return y.to(in.u.device());
}

}  // namespace layerscope
