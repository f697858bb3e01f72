#include "core/capture/capture_point.h"

#include "core/model/model_config.h"
#include "core/util/error.h"

namespace layerscope {

const std::vector<CapturePointInfo>& AllCapturePoints() {
  static const std::vector<CapturePointInfo> kPoints = {
      {CapturePoint::kMixerInput, "mixer_input", "RMSNorm output times its weight: what the mixer receives", true},
      {CapturePoint::kInProjOutput, "in_proj_output", "in_proj output, x and z halves concatenated", false},
      {CapturePoint::kConv1dInput, "conv1d_input", "x half of in_proj, before the causal depthwise conv", true},
      {CapturePoint::kConv1dOutput, "conv1d_output", "SiLU of the causal conv1d output", true},
      {CapturePoint::kXProjOutput, "x_proj_output", "x_proj output: dt_low, B and C concatenated", false},
      {CapturePoint::kDt, "dt", "softplus(dt_proj(dt_low) + dt bias): the scan's step sizes", false},
      {CapturePoint::kSsmInput, "ssm_input", "u: what the selective scan receives as input", true},
      {CapturePoint::kSsmOutput, "ssm_output", "selective scan output after the D skip and SiLU(z) gating", true},
      {CapturePoint::kOutProjInput, "out_proj_input", "what out_proj receives, in the FP basis", false},
      {CapturePoint::kMixerOutput, "mixer_output", "out_proj output: the mixer's contribution to the residual", true},
      {CapturePoint::kBlockOutput, "block_output", "residual stream after the layer (residual + mixer output)", false},
  };
  return kPoints;
}

const CapturePointInfo& CapturePointInfoOf(CapturePoint point) {
  for (const auto& info : AllCapturePoints()) {
    if (info.point == point) return info;
  }
  throw Error(ErrorKind::kInternal, "capture point without a table row");
}

const char* CapturePointName(CapturePoint point) { return CapturePointInfoOf(point).name; }

std::optional<CapturePoint> ParseCapturePoint(std::string_view name) {
  for (const auto& info : AllCapturePoints()) {
    if (name == info.name) return info.point;
  }
  return std::nullopt;
}

std::vector<CapturePoint> DefaultCapturePoints() {
  std::vector<CapturePoint> points;
  for (const auto& info : AllCapturePoints()) {
    if (info.is_default) points.push_back(info.point);
  }
  return points;
}

int64_t CaptureChannels(CapturePoint point, const MambaConfig& config) {
  switch (point) {
    case CapturePoint::kMixerInput:
    case CapturePoint::kMixerOutput:
    case CapturePoint::kBlockOutput: return config.d_model;
    case CapturePoint::kInProjOutput: return 2 * config.d_inner;
    case CapturePoint::kXProjOutput: return config.dt_rank + 2 * config.d_state;
    case CapturePoint::kConv1dInput:
    case CapturePoint::kConv1dOutput:
    case CapturePoint::kDt:
    case CapturePoint::kSsmInput:
    case CapturePoint::kSsmOutput:
    case CapturePoint::kOutProjInput: return config.d_inner;
  }
  throw Error(ErrorKind::kInternal, "capture point " + std::to_string(static_cast<int>(point)) + " has no width");
}

}  // namespace layerscope
