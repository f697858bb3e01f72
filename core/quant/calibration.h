// Calibration (../shared/docs/MODES.md §2.2): the static per-tensor activation scales of every layer, observed on
// the rotated, norm-fused model in fp16, one calibration sequence per forward. Plain C++: the options travel in
// ResidentModel's public load options.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/model/checkpoint.h"

namespace layerscope {

struct CalibrationOptions {
  int samples = 10;                    // calibration sequences (the seed's tool: 10 documents)
  int seq_len = 512;                   // tokens per sequence
  double percentile_alpha = 0.9995;    // for x_proj:input (u) and the SSM state; the evaluated checkpoint used 0.9999
  bool fp16_weight_arithmetic = true;  // weight codes computed in fp16 as the recipe did (MODES.md §2.2)
};

// The activation scales of one layer, named after the recipe's observers (MODES.md §2.2 table).
struct LayerScales {
  float in_proj_input = 0;   // s_in: RMSNorm output, min-max
  float in_proj_output = 0;  // s_xz: x and z halves together, min-max
  float x_proj_input = 0;    // s_u: SiLU(conv1d) output, percentile
  float x_proj_output = 0;   // s_xdbl: dt_low, B, C together, min-max
  float dt_proj_output = 0;  // s_dt: dt_proj output without bias, min-max
  float ssm_state = 0;       // final SSM state of each sequence, percentile
  float out_proj_input = 0;  // s_oin: Hadamard-rotated SSM output, min-max
};

// Runs `rotated` (the output of RotateAndFuse) in fp16 on `device` over each sample in turn and returns the scales
// of every layer. Deterministic: the same model, samples and options give identical scales.
std::vector<LayerScales> Calibrate(const Checkpoint& rotated, const std::vector<std::vector<int32_t>>& samples,
                                   const CalibrationOptions& options, const std::string& device);

}  // namespace layerscope
