#include "core/quant/calibration.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include "core/model/mamba_model.h"
#include "core/quant/hadamard.h"
#include "core/quant/observers.h"
#include "core/quant/qops.h"
#include "core/util/error.h"

namespace layerscope {
namespace {

// The observers of one layer, in the order of the MODES.md §2.2 table.
struct LayerObservers {
  explicit LayerObservers(double alpha) : x_proj_input(alpha), ssm_state(alpha) {}
  MinMaxObserver in_proj_input, in_proj_output;
  PercentileObserver x_proj_input;
  MinMaxObserver x_proj_output, dt_proj_output;
  PercentileObserver ssm_state;
  MinMaxObserver out_proj_input;
};

at::Tensor Fp16(const at::Tensor& t) { return t.to(at::kHalf).to(at::kFloat); }

}  // namespace

std::vector<LayerScales> Calibrate(const Checkpoint& rotated, const std::vector<std::vector<int32_t>>& samples,
                                   const CalibrationOptions& options, const std::string& device) {
  if (samples.empty()) throw Error(ErrorKind::kInvalidArgument, "calibration needs at least one sample");
  c10::InferenceMode inference;
  const MambaConfig& c = rotated.config;
  const at::Device dev(device);
  // The recipe calibrates the transformed model in fp16 (MODES.md §2.2); FloatMamba's fp16 rounds every stage
  // output to fp16, which is that model's data path.
  const FloatMamba model(rotated, dev, FloatPrecision::kFp16);
  std::vector<int> layers;
  for (int i = 0; i < c.n_layer; ++i) layers.push_back(i);
  const std::vector<CapturePoint> points = {CapturePoint::kMixerInput, CapturePoint::kInProjOutput,
                                            CapturePoint::kConv1dOutput, CapturePoint::kXProjOutput,
                                            CapturePoint::kSsmOutput};
  // dt_proj's output without its bias and the final SSM state are not capture points: recomputed from the
  // captures with the same fp16 weights and the framework scan.
  std::vector<at::Tensor> dt_proj(c.n_layer), dt_bias(c.n_layer), A(c.n_layer), D(c.n_layer);
  for (int i = 0; i < c.n_layer; ++i) {
    const std::string p = "backbone.layers." + std::to_string(i) + ".mixer.";
    auto fp32 = [&](const std::string& key) { return ToTensor(rotated.weights.at(p + key)).to(dev); };
    dt_proj[i] = Fp16(fp32("dt_proj.weight"));
    dt_bias[i] = fp32("dt_proj.bias");
    A[i] = -at::exp(fp32("A_log"));
    D[i] = fp32("D");
  }

  std::vector<LayerObservers> observers(c.n_layer, LayerObservers(options.percentile_alpha));
  const int64_t E = c.d_inner, N = c.d_state, R = c.dt_rank;
  for (const auto& sample : samples) {
    at::Tensor ids = at::empty({1, static_cast<int64_t>(sample.size())}, at::kLong);
    for (size_t t = 0; t < sample.size(); ++t) ids[0][t] = static_cast<int64_t>(sample[t]);
    CaptureSink sink(layers, points, /*keep_logits=*/false);
    model.Forward(ids.to(dev), sink);
    for (int i = 0; i < c.n_layer; ++i) {
      auto get = [&](CapturePoint point) { return sink.tensors.at({i, point}); };
      LayerObservers& o = observers[i];
      const at::Tensor xz = get(CapturePoint::kInProjOutput), u = get(CapturePoint::kConv1dOutput);
      const at::Tensor x_dbl = get(CapturePoint::kXProjOutput), y = get(CapturePoint::kSsmOutput);
      o.in_proj_input.Observe(get(CapturePoint::kMixerInput));
      o.in_proj_output.Observe(xz);
      o.x_proj_input.Observe(u);
      o.x_proj_output.Observe(x_dbl);
      const at::Tensor dt_raw = Fp16(at::linear(x_dbl.narrow(-1, 0, R), dt_proj[i]));
      o.dt_proj_output.Observe(dt_raw);
      at::Tensor last_state;
      SsmScan({u, dt_raw, dt_bias[i], A[i], x_dbl.narrow(-1, R, N).contiguous(),
               x_dbl.narrow(-1, R + N, N).contiguous(), D[i], xz.narrow(-1, E, E).contiguous()},
              SsmArithmetic::kFramework, &last_state);
      o.ssm_state.Observe(last_state);
      o.out_proj_input.Observe(Fp16(ApplyHadamard(y)));
    }
  }
  std::vector<LayerScales> scales(c.n_layer);
  for (int i = 0; i < c.n_layer; ++i) {
    const LayerObservers& o = observers[i];
    LayerScales& s = scales[i];
    s.in_proj_input = static_cast<float>(o.in_proj_input.Scale());
    s.in_proj_output = static_cast<float>(o.in_proj_output.Scale());
    s.x_proj_input = static_cast<float>(o.x_proj_input.Scale());
    s.x_proj_output = static_cast<float>(o.x_proj_output.Scale());
    s.dt_proj_output = static_cast<float>(o.dt_proj_output.Scale());
    s.ssm_state = static_cast<float>(o.ssm_state.Scale());
    s.out_proj_input = static_cast<float>(o.out_proj_input.Scale());
  }
  return scales;
}

}  // namespace layerscope
