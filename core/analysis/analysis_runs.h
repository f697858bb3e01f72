// The analyses run over a resident model: the reference and each mode over the same batches of a CompareRequest,
// through ResidentModel::Run, with the captures or logits fed to the accumulators of error_breakdown.h and
// model_effect.h in sample order (so results are bit-identical run to run on one machine).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "core/analysis/error_breakdown.h"
#include "core/analysis/model_effect.h"
#include "core/capture/capture_point.h"
#include "core/compare/comparison.h"
#include "core/compare/resident_model.h"

namespace layerscope {

// Polled between forward passes; returning true stops the run with Error(kCancelled).
using CancelCheck = std::function<bool()>;

struct BreakdownRow {
  std::string mode;
  int layer = 0;
  CapturePoint point = CapturePoint::kMixerInput;
  ErrorBreakdown breakdown;
};

// One row per (mode, layer, point) of `request`, in Compare's row order (modes, then layers, then points). The
// reference's captures are kept for every mode, as Compare keeps them.
std::vector<BreakdownRow> RunBreakdowns(const ResidentModel& model, const CompareRequest& request,
                                        const BreakdownOptions& options, const CancelCheck& cancelled);

struct ModelEffects {
  Perplexity reference;
  std::vector<ModelEffect> modes;  // request.modes' order
};

// Runs batch by batch (the reference, then every mode), so that only one batch's logits are held at a time.
// request.layers and request.points are not used.
ModelEffects RunModelEffects(const ResidentModel& model, const CompareRequest& request, const CancelCheck& cancelled);

}  // namespace layerscope
