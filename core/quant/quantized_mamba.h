// QuantizedMamba: the W8A8 "Quamba" Mamba-1 (../shared/docs/MODES.md §2) resident on one device, run under any
// quantized ModeSpec (§3) with every capture brought back to the FP model's basis and units (§4). Built from an
// FP checkpoint by the offline transforms and calibration (Quantize), or from a published Quamba checkpoint
// (quamba_checkpoint.h). Internal to the core library (LibTorch types); ResidentModel is the public face.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <map>
#include <vector>

#include "core/model/checkpoint.h"
#include "core/model/mamba_model.h"
#include "core/modes/mode_spec.h"
#include "core/quant/calibration.h"

namespace layerscope {

// A W8A8 linear as Quamba stores it: int8 weight [out, in] and the three scalars of its epilogue, a = s_x / s_y,
// b = s_W and alpha = s_W·s_x / s_y (int8 output) or s_W·s_x (float output). The forward uses alpha, as the
// published kernel does; a and b are kept so a saved checkpoint carries what a loaded one had.
struct QuantLinear {
  at::Tensor weight;
  float a = 0, b = 0, alpha = 0;
};

struct QuantizedLayer {
  float norm_output_scale = 0;  // s_in
  QuantLinear in_proj;          // int8 out, scale s_xz
  at::Tensor conv_weight;       // int8 [d_inner, d_conv]
  at::Tensor conv_bias;         // int8 [d_inner]
  float conv_weight_scale = 0, conv_bias_scale = 0;
  float conv_input_scale = 0;    // s_xz
  float conv_output_scale = 0;   // s_u
  QuantLinear x_proj;            // int8 out, scale s_xdbl
  QuantLinear dt_proj;           // int8 out, scale s_dt
  at::Tensor A_log, D, dt_bias;  // int8 [d_inner, d_state], [d_inner], [d_inner]
  float A_scale = 0, D_scale = 0, dt_bias_scale = 0;
  float u_scale = 0, dt_scale = 0, B_scale = 0, C_scale = 0, z_scale = 0, ssm_state_scale = 0;
  float had_scale = 0;   // s_oin: quantization of the Hadamard-rotated SSM output
  QuantLinear out_proj;  // fp16 out, rotated on both sides
  // The FP norm weight γ folded into in_proj: captures of mixer_input multiply by it to return to the FP units.
  // Undefined for a model loaded from a Quamba checkpoint alone (the checkpoint does not keep it).
  at::Tensor gamma;
};

struct QuantizedWeights {
  MambaConfig config;    // layout kQuamba
  at::Tensor embedding;  // fp16 [vocab, d_model], rows rotated
  at::Tensor norm_f;     // fp16 [d_model] (ones: folded into lm_head)
  at::Tensor lm_head;    // fp16 [vocab, d_model], folded and rotated
  std::vector<QuantizedLayer> layers;
};

// Counters a forward fills: how many out_proj input values fell outside [-128, 127] (they saturate, or wrap
// under Int8Overflow::kWrap). Forward sums them on the model's device and adds the total here once, at its end.
struct ForwardCounters {
  int64_t out_proj_input_overflows = 0;
};

// The recipe's weight quantization and calibration of an FP checkpoint (MODES.md §2.1–2.2), on the CPU.
QuantizedWeights QuantizeCheckpoint(const Checkpoint& checkpoint, const std::vector<std::vector<int32_t>>& samples,
                                    const CalibrationOptions& options, const std::string& calibration_device);

// The stages of one quantized layer (MODES.md §2.3), in data-flow order; ModeSpec::QuantizedStages() lists them.
enum class QuantStage { kNorm, kInProj, kConv1d, kXProj, kDtProj, kSsm, kHadamard, kOutProj };

struct QuantStageInfo {
  QuantStage stage;
  const char* name;                  // "norm", "in_proj", ..., as ModeSpec::QuantizedStages() names them
  std::vector<CapturePoint> inputs;  // the captures RunStage takes the stage's inputs from
  CapturePoint output;               // the capture of the stage's output
};

// Every stage, in data-flow order.
const std::vector<QuantStageInfo>& AllQuantStages();

class QuantizedMamba {
 public:
  // Moves `weights` onto `device`. Throws Error(kInvalidArgument) when shapes or dtypes disagree with the config.
  QuantizedMamba(QuantizedWeights weights, at::Device device);

  const QuantizedWeights& weights() const { return weights_; }

  // ids: [B, L] int64 on the model's device. mode.weights must be kQuantized. Captures are fp32 [B, L, C] in the
  // FP model's basis and units, each described in sink.descriptions.
  void Forward(const at::Tensor& ids, const ModeSpec& mode, CaptureSink& sink, ForwardCounters* counters) const;

  // Runs one stage of `layer` alone under `mode` on activations of any run (`inputs`: the captures the stage's
  // QuantStageInfo names, fp32 [B, L, C] in the FP basis and units, e.g. the fp32 reference's). Each input first
  // goes through the quantization `mode` gives it in Forward (the rounding of the stage that produced it: in_proj's
  // RNE for conv1d's input, the conv's RHAZ or the requantization for x_proj's and the scan's, ...), then the stage
  // computes as in Forward, and its output is returned as Forward captures it. Throws Error(kInvalidArgument) for a
  // missing input or a layer out of range.
  at::Tensor RunStage(int layer, QuantStage stage, const ModeSpec& mode,
                      const std::map<CapturePoint, at::Tensor>& inputs) const;

 private:
  // Throws unless `mode` runs the W8A8 weights with an input x_proj can take.
  void CheckMode(const ModeSpec& mode) const;
  // mixer_input's capture from the norm codes: dequantized, un-rotated, multiplied by γ (MODES.md §4).
  at::Tensor MixerInputValue(const QuantizedLayer& l, const at::Tensor& x_q) const;

  QuantizedWeights weights_;
  at::Device device_;
  at::Tensor h_model_, h_inner_;  // Ĥ(d_model), Ĥ(d_inner), fp32, for un-rotating captures
};

}  // namespace layerscope
