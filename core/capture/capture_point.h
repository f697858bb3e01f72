// CapturePoint: the named places inside a Mamba-1 layer where activations can be taken
// (../shared/docs/MODES.md §4). Every capture is [batch, seqlen, channels], fp32, in the FP model's basis.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace layerscope {

struct MambaConfig;

enum class CapturePoint {
  kMixerInput,    // RMSNorm output (x γ), the mixer's input                         [B, L, d_model]
  kInProjOutput,  // in_proj output, x and z halves                                   [B, L, 2 d_inner]
  kConv1dInput,   // x half of in_proj, before the causal conv                        [B, L, d_inner]
  kConv1dOutput,  // SiLU(conv1d(x))                                                  [B, L, d_inner]
  kXProjOutput,   // x_proj output: dt_low, B, C                                      [B, L, dt_rank + 2 d_state]
  kDt,            // softplus(dt_proj(dt_low) + bias), the scan's step size           [B, L, d_inner]
  kSsmInput,      // u, what the selective scan receives                              [B, L, d_inner]
  kSsmOutput,     // y after the D skip and SiLU(z) gating                            [B, L, d_inner]
  kOutProjInput,  // what out_proj receives (after the Hadamard in quantized modes, un-rotated) [B, L, d_inner]
  kMixerOutput,   // out_proj output                                                  [B, L, d_model]
  kBlockOutput,   // residual stream after the layer's add (r + mixer output)         [B, L, d_model]
};

struct CapturePointInfo {
  CapturePoint point;
  const char* name;  // "mixer_input", ...
  const char* description;
  bool is_default;  // one of the seed's six
};

// Every point, in data-flow order.
const std::vector<CapturePointInfo>& AllCapturePoints();
const CapturePointInfo& CapturePointInfoOf(CapturePoint point);
const char* CapturePointName(CapturePoint point);
std::optional<CapturePoint> ParseCapturePoint(std::string_view name);
// The seed's six: mixer_input, conv1d_input, conv1d_output, ssm_input, ssm_output, mixer_output.
std::vector<CapturePoint> DefaultCapturePoints();
// Channels per token of `point`'s captures in a model of `config` (the widths above).
int64_t CaptureChannels(CapturePoint point, const MambaConfig& config);

}  // namespace layerscope
