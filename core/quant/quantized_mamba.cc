#include "core/quant/quantized_mamba.h"

#include <algorithm>
#include <string>

#include "core/quant/hadamard.h"
#include "core/quant/qops.h"
#include "core/quant/quamba_transforms.h"
#include "core/quant/rounding.h"
#include "core/quant/weight_quant.h"
#include "core/util/error.h"

namespace layerscope {
namespace {

// Scales are fp32 values, as the recipe's tensors hold them; products of scales are one fp32 operation each.
float F32(double v) { return static_cast<float>(v); }

// A W8A8 linear's weight codes and epilogue scalars (MODES.md §2.4): int8 output when out_scale > 0
// (a = s_in / s_out, alpha = (s_W·s_in) / s_out), float output otherwise (a = s_in, alpha = s_W·s_in).
QuantLinear MakeLinear(const at::Tensor& w, float in_scale, float out_scale, bool fp16_arithmetic) {
  const QuantizedWeight q = QuantizeWeight(w, fp16_arithmetic);
  QuantLinear linear;
  linear.weight = q.q.contiguous();
  linear.b = F32(q.scale);
  const float product = linear.b * in_scale;
  linear.a = out_scale > 0 ? in_scale / out_scale : in_scale;
  linear.alpha = out_scale > 0 ? product / out_scale : product;
  return linear;
}

void CheckTensor(const at::Tensor& t, at::ScalarType dtype, std::vector<int64_t> shape, const std::string& what) {
  if (!t.defined() || t.scalar_type() != dtype || t.sizes().vec() != shape) {
    throw Error(
        ErrorKind::kInvalidArgument,
        "quantized model: " + what + " should be " + at::toString(dtype) + " " + ShapeString(shape) +
            (t.defined() ? ", is " + std::string(at::toString(t.scalar_type())) + " " + ShapeString(t.sizes().vec())
                         : ", is missing"));
  }
}

}  // namespace

namespace {

constexpr auto kRne = Rounding::kHalfToEven;
constexpr auto kRhaz = Rounding::kHalfAwayFromZero;

// Captures in the FP basis (MODES.md §4): x·Ĥ un-rotates (Ĥ is symmetric and its own inverse).
at::Tensor Unrotate(const at::Tensor& x, const at::Tensor& h) { return at::matmul(x.to(at::kFloat), h); }

// in_proj's outputs as the later stages take them (MODES.md §2.3 step 2, §3).
struct InProjOutput {
  at::Tensor z_q;        // int8 z half (s_z)
  at::Tensor conv_in_q;  // conv1d's int8 input
  float conv_in_scale = 0;
  at::Tensor x_float;  // in_proj's float x half, for a dynamically requantized conv input (mode 3)
};

// Mode 3's conv input scale (MODES.md §3): max(max|x|, 1e-5) / 127 over the whole tensor of this call.
float DynamicScale(const at::Tensor& x) { return std::max(x.abs().max().item<float>(), 1e-5f) / 127.0f; }

InProjOutput InProj(const QuantizedLayer& l, const ModeSpec& mode, const at::Tensor& x_q) {
  const int64_t E = l.in_proj.weight.size(0) / 2;
  const at::Tensor xz_q = W8A8LinearInt8(x_q, l.in_proj.weight, l.in_proj.alpha);
  InProjOutput out;
  out.z_q = xz_q.narrow(-1, E, E).contiguous();
  out.conv_in_q = xz_q.narrow(-1, 0, E).contiguous();
  out.conv_in_scale = l.conv_input_scale;
  if (mode.conv_input == ConvInput::kFloatDynamic) {
    // The x half before in_proj's int8 quantization, v = (s_W·s_in)·acc in fp32, requantized with RNE (framework
    // requantization).
    const float scale = l.in_proj.b * l.norm_output_scale;
    out.x_float = W8A8LinearFloat(x_q, l.in_proj.weight.narrow(0, 0, E), scale, at::kFloat);
    out.conv_in_scale = DynamicScale(out.x_float);
    out.conv_in_q = QuantizeInt8(out.x_float, out.conv_in_scale, kRne);
  }
  return out;
}

// in_proj_output's capture: x and z in FP units (mode 3: the float x half).
at::Tensor InProjValue(const QuantizedLayer& l, const InProjOutput& in_proj) {
  const at::Tensor x = in_proj.x_float.defined() ? in_proj.x_float : Dequantize(in_proj.conv_in_q, l.conv_input_scale);
  return at::cat({x, Dequantize(in_proj.z_q, l.z_scale)}, -1);
}

// conv1d + SiLU (step 3): the codes when the conv quantizes its output, and the value its consumers see.
struct ConvResult {
  at::Tensor u_q;    // int8 (RHAZ, s_u); undefined for an fp32 output
  at::Tensor value;  // fp32: dequantized codes or the float output
};

ConvResult Conv(const QuantizedLayer& l, const ModeSpec& mode, const at::Tensor& conv_in_q, float conv_in_scale) {
  ConvResult out;
  if (mode.conv_output == ConvOutput::kFp32) {
    out.value =
        QConv1dSiluFloat(conv_in_q, l.conv_weight, l.conv_bias, conv_in_scale, l.conv_weight_scale, l.conv_bias_scale);
  } else {
    out.u_q = QConv1dSiluInt8(conv_in_q, l.conv_weight, l.conv_bias, conv_in_scale, l.conv_weight_scale,
                              l.conv_bias_scale, l.conv_output_scale);
    out.value = Dequantize(out.u_q, l.conv_output_scale);
  }
  return out;
}

// Path A (MODES.md §3): x_proj's int8 input, the conv's codes or its output requantized (RNE, s_u).
at::Tensor XProjInput(const QuantizedLayer& l, const ModeSpec& mode, const ConvResult& conv) {
  return mode.x_proj_input == StageInput::kAsProduced ? conv.u_q : QuantizeInt8(conv.value, l.conv_output_scale, kRne);
}

// Path B (MODES.md §3): the scan's u, fp32 (codes dequantized, grid values or the float output).
at::Tensor SsmU(const QuantizedLayer& l, const ModeSpec& mode, const ConvResult& conv) {
  if (mode.ssm_input == StageInput::kRequantRne) {
    return Dequantize(QuantizeInt8(conv.value, l.conv_output_scale, kRne), l.u_scale);
  }
  return conv.u_q.defined() ? Dequantize(conv.u_q, l.u_scale) : conv.value;
}

// The scan's inputs dequantized (step 5); dt as its codes, which the scan dequantizes itself (Dequantize's values)
// and, where that pays, takes through per-channel tables of its 256 codes.
SsmInputs ScanInputs(const QuantizedLayer& l, const at::Tensor& u, const at::Tensor& dt_q, const at::Tensor& x_dbl_q,
                     const at::Tensor& z_q) {
  const int64_t N = l.A_log.size(1), R = l.dt_proj.weight.size(1);
  SsmInputs in;
  in.u = u;
  in.dt_q = dt_q;
  in.dt_scale = l.dt_scale;
  in.dt_bias = Dequantize(l.dt_bias, l.dt_bias_scale);
  in.A = -at::exp(Dequantize(l.A_log, l.A_scale));
  in.Bm = Dequantize(x_dbl_q.narrow(-1, R, N).contiguous(), l.B_scale);
  in.Cm = Dequantize(x_dbl_q.narrow(-1, R + N, N).contiguous(), l.C_scale);
  in.D = Dequantize(l.D, l.D_scale);
  in.z = Dequantize(z_q.contiguous(), l.z_scale);
  return in;
}

// dt's capture: the framework's softplus (threshold 20); the kernel variant computes its own inside the scan.
at::Tensor DtValue(const at::Tensor& dt_raw, const at::Tensor& dt_bias) {
  return at::softplus(dt_raw + dt_bias, 1, 20);
}

// dt_proj (step 4): int8 dt from x_proj's int8 output.
at::Tensor DtProj(const QuantizedLayer& l, const at::Tensor& x_dbl_q) {
  const int64_t R = l.dt_proj.weight.size(1);
  return W8A8LinearInt8(x_dbl_q.narrow(-1, 0, R).contiguous(), l.dt_proj.weight, l.dt_proj.alpha);
}

}  // namespace

const std::vector<QuantStageInfo>& AllQuantStages() {
  using P = CapturePoint;
  static const std::vector<QuantStageInfo> kStages = {
      {QuantStage::kNorm, "norm", {P::kMixerInput}, P::kMixerInput},
      {QuantStage::kInProj, "in_proj", {P::kMixerInput}, P::kInProjOutput},
      {QuantStage::kConv1d, "conv1d", {P::kConv1dInput}, P::kConv1dOutput},
      {QuantStage::kXProj, "x_proj", {P::kConv1dOutput}, P::kXProjOutput},
      {QuantStage::kDtProj, "dt_proj", {P::kXProjOutput}, P::kDt},
      {QuantStage::kSsm, "ssm", {P::kSsmInput, P::kDt, P::kXProjOutput, P::kInProjOutput}, P::kSsmOutput},
      {QuantStage::kHadamard, "hadamard", {P::kSsmOutput}, P::kOutProjInput},
      {QuantStage::kOutProj, "out_proj", {P::kOutProjInput}, P::kMixerOutput},
  };
  return kStages;
}

QuantizedWeights QuantizeCheckpoint(const Checkpoint& checkpoint, const std::vector<std::vector<int32_t>>& samples,
                                    const CalibrationOptions& options, const std::string& calibration_device) {
  const Checkpoint rotated = RotateAndFuse(checkpoint);
  const std::vector<LayerScales> scales = Calibrate(rotated, samples, options, calibration_device);
  const MambaConfig& c = checkpoint.config;
  auto weight = [&](const std::string& key) { return ToTensor(rotated.weights.at(key)); };

  QuantizedWeights w;
  w.config = c;
  w.config.layout = CheckpointLayout::kQuamba;
  w.config.tie_embeddings = false;
  // Embedding, final norm and lm_head stay fp16 (MODES.md §2.3).
  w.embedding = weight("backbone.embedding.weight").to(at::kHalf);
  w.norm_f = at::ones({c.d_model}, at::kHalf);
  w.lm_head = weight("lm_head.weight").to(at::kHalf);
  const bool fp16 = options.fp16_weight_arithmetic;
  for (int64_t i = 0; i < c.n_layer; ++i) {
    const std::string p = "backbone.layers." + std::to_string(i) + ".";
    const LayerScales& s = scales[i];
    QuantizedLayer l;
    l.gamma = ToTensor(checkpoint.weights.at(p + "norm.weight")).to(at::kFloat);
    l.norm_output_scale = s.in_proj_input;
    l.in_proj = MakeLinear(weight(p + "mixer.in_proj.weight"), s.in_proj_input, s.in_proj_output, fp16);
    // Conv weight and bias get separate scales (MODES.md §2.2).
    const QuantizedWeight conv_w =
        QuantizeWeight(weight(p + "mixer.conv1d.weight").reshape({c.d_inner, c.d_conv}), fp16);
    const at::Tensor bias = c.conv_bias ? weight(p + "mixer.conv1d.bias") : at::zeros({c.d_inner});
    const QuantizedWeight conv_b = QuantizeWeight(bias, fp16);
    l.conv_weight = conv_w.q.contiguous();
    l.conv_bias = conv_b.q.contiguous();
    l.conv_weight_scale = F32(conv_w.scale);
    l.conv_bias_scale = F32(conv_b.scale);
    l.conv_input_scale = s.in_proj_output;
    l.conv_output_scale = s.x_proj_input;
    l.x_proj = MakeLinear(weight(p + "mixer.x_proj.weight"), s.x_proj_input, s.x_proj_output, fp16);
    l.dt_proj = MakeLinear(weight(p + "mixer.dt_proj.weight"), s.x_proj_output, s.dt_proj_output, fp16);
    const QuantizedWeight A_log = QuantizeParameterNoClamp(weight(p + "mixer.A_log"));
    const QuantizedWeight D = QuantizeParameterNoClamp(weight(p + "mixer.D"));
    const QuantizedWeight dt_bias = QuantizeParameterNoClamp(weight(p + "mixer.dt_proj.bias"));
    l.A_log = A_log.q;
    l.D = D.q;
    l.dt_bias = dt_bias.q;
    l.A_scale = F32(A_log.scale);
    l.D_scale = F32(D.scale);
    l.dt_bias_scale = F32(dt_bias.scale);
    l.u_scale = s.x_proj_input;
    l.dt_scale = s.dt_proj_output;
    l.B_scale = s.x_proj_output;
    l.C_scale = s.x_proj_output;
    l.z_scale = s.in_proj_output;
    l.ssm_state_scale = s.ssm_state;
    l.had_scale = s.out_proj_input;
    l.out_proj =
        MakeLinear(RotateOutProjInput(weight(p + "mixer.out_proj.weight")), s.out_proj_input, /*out_scale=*/0, fp16);
    w.layers.push_back(std::move(l));
  }
  return w;
}

QuantizedMamba::QuantizedMamba(QuantizedWeights weights, at::Device device)
    : weights_(std::move(weights)), device_(device) {
  const MambaConfig& c = weights_.config;
  const int64_t D = c.d_model, E = c.d_inner, N = c.d_state, K = c.d_conv, R = c.dt_rank;
  if (static_cast<int64_t>(weights_.layers.size()) != c.n_layer) {
    throw Error(ErrorKind::kInvalidArgument, "quantized model: " + std::to_string(weights_.layers.size()) +
                                                 " layers for n_layer " + std::to_string(c.n_layer));
  }
  auto move = [&](at::Tensor& t, at::ScalarType dtype, std::vector<int64_t> shape, const std::string& what) {
    CheckTensor(t, dtype, shape, what);
    t = t.to(device_).contiguous();
  };
  move(weights_.embedding, at::kHalf, {c.vocab_size, D}, "embedding");
  move(weights_.norm_f, at::kHalf, {D}, "norm_f");
  move(weights_.lm_head, at::kHalf, {c.vocab_size, D}, "lm_head");
  for (size_t i = 0; i < weights_.layers.size(); ++i) {
    QuantizedLayer& l = weights_.layers[i];
    const std::string p = "layer " + std::to_string(i) + " ";
    move(l.in_proj.weight, at::kChar, {2 * E, D}, p + "in_proj");
    move(l.conv_weight, at::kChar, {E, K}, p + "conv1d weight");
    move(l.conv_bias, at::kChar, {E}, p + "conv1d bias");
    move(l.x_proj.weight, at::kChar, {R + 2 * N, E}, p + "x_proj");
    move(l.dt_proj.weight, at::kChar, {E, R}, p + "dt_proj");
    move(l.A_log, at::kChar, {E, N}, p + "A_log");
    move(l.D, at::kChar, {E}, p + "D");
    move(l.dt_bias, at::kChar, {E}, p + "dt_bias");
    move(l.out_proj.weight, at::kChar, {D, E}, p + "out_proj");
    if (l.gamma.defined()) move(l.gamma, at::kFloat, {D}, p + "gamma");
  }
  h_model_ = HadamardMatrix(D).to(device_);
  h_inner_ = HadamardMatrix(E).to(device_);
}

void QuantizedMamba::Forward(const at::Tensor& ids, const ModeSpec& mode, CaptureSink& sink,
                             ForwardCounters* counters) const {
  CheckMode(mode);
  const MambaConfig& c = weights_.config;
  const int64_t batch = ids.size(0), seqlen = ids.size(1);
  const int last = sink.LastLayerNeeded(static_cast<int>(c.n_layer));

  auto int8_described = [](double scale, const char* name) {
    CaptureDescription d;
    d.dtype = "int8";
    d.scale = scale;
    d.scale_name = name;
    return d;
  };
  CaptureDescription fp32_described;
  CaptureDescription fp16_described;
  fp16_described.dtype = "fp16";

  at::Tensor h = weights_.embedding.index_select(0, ids.reshape({-1})).view({batch, seqlen, c.d_model});
  at::Tensor r;  // residual stream, fp32, rotated basis
  // The out_proj input overflows of every layer, summed on the device and read once at the end (no per-layer sync).
  at::Tensor overflows;
  for (int i = 0; i <= last; ++i) {
    const QuantizedLayer& l = weights_.layers[i];
    r = i == 0 ? h.to(at::kFloat) : r + h.to(at::kFloat);
    if (!c.residual_in_fp32) r = r.to(at::kHalf).to(at::kFloat);

    // 1. Norm with int8 output (RNE, s_in).
    const at::Tensor x_q = QRmsNormInt8(r, c.norm_eps, l.norm_output_scale);
    if (sink.Wants(i, CapturePoint::kMixerInput)) {
      CaptureDescription d = int8_described(l.norm_output_scale, "s_in");
      d.unrotated = true;
      d.gamma_applied = l.gamma.defined();
      sink.Put(i, CapturePoint::kMixerInput, MixerInputValue(l, x_q), d);
    }

    // 2. in_proj, int8 output (RNE, s_xz); x and z halves.
    const InProjOutput in_proj = InProj(l, mode, x_q);
    if (sink.Wants(i, CapturePoint::kInProjOutput)) {
      CaptureDescription d = int8_described(l.conv_input_scale, "s_xz");
      if (in_proj.x_float.defined()) d.dtype = "fp32 x, int8 z";
      sink.Put(i, CapturePoint::kInProjOutput, InProjValue(l, in_proj), d);
    }
    sink.Put(i, CapturePoint::kConv1dInput, Dequantize(in_proj.conv_in_q, in_proj.conv_in_scale),
             int8_described(in_proj.conv_in_scale, in_proj.x_float.defined() ? "dynamic" : "s_xz"));

    // 3. conv1d + SiLU: int8 codes (RHAZ, s_u) or the fp32 value.
    const ConvResult conv = Conv(l, mode, in_proj.conv_in_q, in_proj.conv_in_scale);
    CaptureDescription conv_described = fp32_described;
    if (conv.u_q.defined()) {
      conv_described = int8_described(l.conv_output_scale, "s_u");
      if (mode.conv_output == ConvOutput::kInt8Grid) conv_described.dtype = "fp32 on the int8 grid";
    }
    sink.Put(i, CapturePoint::kConv1dOutput, conv.value, conv_described);
    // Path A (x_proj) and path B (the scan's u), MODES.md §3.
    const at::Tensor x_proj_in = XProjInput(l, mode, conv);
    const at::Tensor u = SsmU(l, mode, conv);
    CaptureDescription u_described = fp32_described;
    if (mode.ssm_input == StageInput::kRequantRne) {
      u_described = int8_described(l.u_scale, "s_u");
    } else if (conv.u_q.defined()) {
      u_described = int8_described(l.u_scale, "s_u");
      u_described.dtype = conv_described.dtype;
    }
    sink.Put(i, CapturePoint::kSsmInput, u, u_described);

    // 4. x_proj (int8 out, s_xdbl) and dt_proj (int8 out, s_dt).
    const at::Tensor x_dbl_q = W8A8LinearInt8(x_proj_in, l.x_proj.weight, l.x_proj.alpha);
    if (sink.Wants(i, CapturePoint::kXProjOutput)) {
      sink.Put(i, CapturePoint::kXProjOutput, Dequantize(x_dbl_q, l.B_scale), int8_described(l.B_scale, "s_xdbl"));
    }
    const at::Tensor dt_q = DtProj(l, x_dbl_q);

    // 5. The scan on dequantized inputs; its output is fp16 in every variant (MODES.md §2.3 step 5, §3).
    const SsmInputs in = ScanInputs(l, u, dt_q, x_dbl_q, in_proj.z_q);
    if (sink.Wants(i, CapturePoint::kDt))
      sink.Put(i, CapturePoint::kDt, DtValue(Dequantize(dt_q, l.dt_scale), in.dt_bias), fp32_described);
    const at::Tensor y = SsmScan(in, mode.ssm).to(at::kHalf);
    sink.Put(i, CapturePoint::kSsmOutput, y, fp16_described);

    // 6. Hadamard of y and its int8 quantization (RHAZ, s_oin): saturating or wrapping.
    const at::Tensor y_q = HadamardQuantInt8(y, l.had_scale, mode.out_proj_input, counters ? &overflows : nullptr);
    if (sink.Wants(i, CapturePoint::kOutProjInput)) {
      CaptureDescription d = int8_described(l.had_scale, "s_oin");
      d.unrotated = true;
      sink.Put(i, CapturePoint::kOutProjInput, Unrotate(Dequantize(y_q, l.had_scale), h_inner_), d);
    }

    // 7. out_proj, fp16 output in the rotated basis.
    h = W8A8LinearFloat(y_q, l.out_proj.weight, l.out_proj.alpha, at::kHalf);
    if (sink.Wants(i, CapturePoint::kMixerOutput)) {
      CaptureDescription d = fp16_described;
      d.unrotated = true;
      sink.Put(i, CapturePoint::kMixerOutput, Unrotate(h, h_model_), d);
    }
    if (sink.Wants(i, CapturePoint::kBlockOutput)) {
      CaptureDescription d = fp32_described;
      d.unrotated = true;
      sink.Put(i, CapturePoint::kBlockOutput, Unrotate(r + h.to(at::kFloat), h_model_), d);
    }
  }
  if (counters && overflows.defined()) counters->out_proj_input_overflows += overflows.item<int64_t>();
  if (!sink.keep_logits()) return;
  // Final norm and lm_head in fp16 (lm_head holds γ_f and the rotation): fp32 arithmetic on fp16 values, each
  // stage rounded to fp16, on every device.
  r = r + h.to(at::kFloat);
  const at::Tensor normed = (QRmsNormFloat(r, c.norm_eps) * weights_.norm_f.to(at::kFloat)).to(at::kHalf);
  sink.logits = at::linear(normed.to(at::kFloat), weights_.lm_head.to(at::kFloat)).to(at::kHalf).to(at::kFloat);
}

void QuantizedMamba::CheckMode(const ModeSpec& mode) const {
  if (mode.weights != WeightSet::kQuantized) {
    throw Error(ErrorKind::kInternal, "mode \"" + mode.name + "\" is a float mode, given to the quantized model");
  }
  if (mode.x_proj_input == StageInput::kAsProduced && mode.conv_output == ConvOutput::kFp32) {
    throw Error(ErrorKind::kInvalidArgument,
                "mode \"" + mode.name + "\": x_proj takes int8, so an fp32 conv1d output needs xproj_in=requant");
  }
}

at::Tensor QuantizedMamba::MixerInputValue(const QuantizedLayer& l, const at::Tensor& x_q) const {
  const at::Tensor x = Unrotate(Dequantize(x_q, l.norm_output_scale), h_model_);
  return l.gamma.defined() ? x * l.gamma : x;
}

at::Tensor QuantizedMamba::RunStage(int layer, QuantStage stage, const ModeSpec& mode,
                                    const std::map<CapturePoint, at::Tensor>& inputs) const {
  CheckMode(mode);
  if (layer < 0 || layer >= static_cast<int>(weights_.layers.size())) {
    throw Error(ErrorKind::kInvalidArgument, "layer " + std::to_string(layer) + " is out of range [0, " +
                                                 std::to_string(weights_.layers.size()) + ")");
  }
  const QuantizedLayer& l = weights_.layers[layer];
  const int64_t E = weights_.config.d_inner;
  auto input = [&](CapturePoint point) {
    const auto found = inputs.find(point);
    if (found == inputs.end()) {
      throw Error(ErrorKind::kInvalidArgument,
                  std::string("RunStage: the input capture ") + CapturePointName(point) + " is missing");
    }
    return found->second.to(device_).to(at::kFloat).contiguous();
  };
  // The norm codes from a mixer_input capture: γ divided out, rotated, RNE with s_in (step 1).
  auto norm_codes = [&] {
    at::Tensor x = input(CapturePoint::kMixerInput);
    if (l.gamma.defined()) x = x / l.gamma;
    return QuantizeInt8(ApplyHadamard(x), l.norm_output_scale, kRne);
  };
  // A conv1d output as its consumers take it: the conv's own RHAZ codes, unless it outputs fp32.
  auto conv_output = [&](CapturePoint point) {
    ConvResult conv;
    conv.value = input(point);
    if (mode.conv_output != ConvOutput::kFp32) {
      conv.u_q = QuantizeInt8(conv.value, l.conv_output_scale, kRhaz);
      conv.value = Dequantize(conv.u_q, l.conv_output_scale);
    }
    return conv;
  };
  // x_proj's int8 output from an x_proj_output capture (RNE, s_xdbl).
  auto x_dbl_codes = [&] { return QuantizeInt8(input(CapturePoint::kXProjOutput), l.B_scale, kRne); };

  switch (stage) {
    case QuantStage::kNorm: return MixerInputValue(l, norm_codes());
    case QuantStage::kInProj: return InProjValue(l, InProj(l, mode, norm_codes()));
    case QuantStage::kConv1d: {
      const at::Tensor x = input(CapturePoint::kConv1dInput);
      const float scale = mode.conv_input == ConvInput::kFloatDynamic ? DynamicScale(x) : l.conv_input_scale;
      return Conv(l, mode, QuantizeInt8(x, scale, kRne), scale).value;
    }
    case QuantStage::kXProj:
      return Dequantize(W8A8LinearInt8(XProjInput(l, mode, conv_output(CapturePoint::kConv1dOutput)), l.x_proj.weight,
                                       l.x_proj.alpha),
                        l.B_scale);
    case QuantStage::kDtProj:
      return DtValue(Dequantize(DtProj(l, x_dbl_codes()), l.dt_scale), Dequantize(l.dt_bias, l.dt_bias_scale));
    case QuantStage::kSsm: {
      // dt_proj's int8 output from the dt capture: softplus inverted (fp64; threshold 20), the bias taken off.
      const at::Tensor dt = input(CapturePoint::kDt).to(at::kDouble);
      const at::Tensor dt_bias = Dequantize(l.dt_bias, l.dt_bias_scale).to(at::kDouble);
      const at::Tensor dt_raw = at::where(dt > 20, dt, at::log(at::expm1(dt))) - dt_bias;
      const at::Tensor dt_q = QuantizeInt8(dt_raw.to(at::kFloat), l.dt_scale, kRne);
      const at::Tensor z_q = QuantizeInt8(input(CapturePoint::kInProjOutput).narrow(-1, E, E), l.z_scale, kRne);
      const SsmInputs in = ScanInputs(l, SsmU(l, mode, conv_output(CapturePoint::kSsmInput)), dt_q, x_dbl_codes(), z_q);
      return SsmScan(in, mode.ssm).to(at::kHalf).to(at::kFloat);
    }
    case QuantStage::kHadamard: {
      const at::Tensor y = input(CapturePoint::kSsmOutput).to(at::kHalf);
      return Unrotate(Dequantize(HadamardQuantInt8(y, l.had_scale, mode.out_proj_input, nullptr), l.had_scale),
                      h_inner_);
    }
    case QuantStage::kOutProj: {
      const at::Tensor y_q =
          HadamardQuantInt8(input(CapturePoint::kOutProjInput), l.had_scale, mode.out_proj_input, nullptr);
      return Unrotate(W8A8LinearFloat(y_q, l.out_proj.weight, l.out_proj.alpha, at::kHalf), h_model_);
    }
  }
  throw Error(ErrorKind::kInternal, "RunStage: unknown stage");
}

}  // namespace layerscope
