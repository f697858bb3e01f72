// Localization: where in each layer a quantized mode's error is born and where it grows.
//
// Every quantized stage of a layer (norm, in_proj, conv1d, x_proj, dt_proj, ssm, hadamard, out_proj: the stages
// ModeSpec::QuantizedStages() lists) is run alone on the reference mode's activations at its input, put through the
// mode's own quantization of that input (QuantizedMamba::RunStage). Its error then is what the stage adds by itself
// ("isolated"). Next to it stands the error the same output shows in the mode's full run ("full"): what came in from
// earlier stages and layers plus the stage's own.
//
// Error metric: relative MSE of a stage output o against the reference's capture r of that output, over every
// sample, position and channel, (Σ(o − r)² / n) / (Σr² / n + 1e-8), the definition of Metrics.relative_mse. So the
// full value equals Compare's relative_mse at the stage's output point, and stages of different scales compare.
// Sums are fp64 in a fixed order: the same request on the same machine gives bit-identical numbers.
#pragma once

#include <string>
#include <vector>

#include "core/analysis/analysis_runs.h"
#include "core/capture/capture_point.h"
#include "core/compare/comparison.h"
#include "core/compare/resident_model.h"

namespace layerscope {

struct StageError {
  std::string stage;  // "norm", "in_proj", "conv1d", "x_proj", "dt_proj", "ssm", "hadamard", "out_proj"
  CapturePoint output = CapturePoint::kMixerInput;  // where the stage's output is captured
  double isolated = 0;                              // relative MSE of the stage run alone on the reference's input
  double full = 0;                                  // relative MSE of the same output in the mode's full run
};

struct LayerLocalization {
  int layer = 0;
  std::vector<StageError> stages;  // data-flow order
  // Index into stages of the largest isolated error (the first of equals): where the error is born.
  int born = 0;
  // Index into stages of the largest growth of the full error over the stage before it (full[s] − full[s − 1],
  // s ≥ 1; the norm's input, the residual stream, is not a capture): where the error grows most.
  int grows = 1;
};

struct ModeLocalization {
  std::string mode;
  std::vector<LayerLocalization> layers;  // request.layers' order
};

// Where born and grows point for `stages` (filled in by Localize; separate so it can be checked by hand).
void MarkBornAndGrows(LayerLocalization& layer);

// One ModeLocalization per mode of `request` (request.points is not used: the stages' inputs and outputs are). Every
// mode must be quantized: a float mode has no quantized stage to isolate (Error(kInvalidArgument) naming it);
// Error(kFailedPrecondition) when the model holds no W8A8 model. The reference is any mode.
std::vector<ModeLocalization> Localize(const ResidentModel& model, const CompareRequest& request,
                                       const CancelCheck& cancelled);

}  // namespace layerscope
