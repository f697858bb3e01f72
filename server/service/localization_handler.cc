#include "server/service/localization_handler.h"

#include "core/analysis/localization.h"
#include "core/util/error.h"

namespace layerscope::server {
namespace {

// "1, 0, 2-0, ...": the built-in quantized modes, for messages.
std::string QuantizedModeNames() {
  std::string names;
  for (const ModeSpec& mode : BuiltinModes()) {
    if (mode.weights == WeightSet::kQuantized) names += (names.empty() ? "" : ", ") + mode.name;
  }
  return names;
}

}  // namespace

ValidatedCompare ValidateLocalize(const std::vector<ModelEntry>& models, const ServerLimits& limits,
                                  const std::string& data_root, const v1::LocalizeRequest& request) {
  const v1::CompareRequest& comparison = request.comparison();
  if (comparison.points_size() > 0) {
    throw Error(ErrorKind::kInvalidArgument, "points: " + std::to_string(comparison.points_size()) +
                                                 " given; leave it empty: localization captures the inputs and "
                                                 "outputs of every stage");
  }
  ValidatedCompare compare = RequestValidator(models, limits, data_root).Validate(comparison);
  compare.request.points.clear();
  for (size_t m = 0; m < compare.request.modes.size(); ++m) {
    const ModeSpec& mode = compare.request.modes[m];
    if (mode.weights != WeightSet::kQuantized) {
      throw Error(ErrorKind::kInvalidArgument, "modes[" + std::to_string(m) + "]: \"" + mode.name +
                                                   "\" is a float mode; localization isolates the stages of a "
                                                   "quantized (W8A8) mode: " +
                                                   QuantizedModeNames());
    }
  }
  return compare;
}

int64_t RunLocalize(const ResidentModel& model, const CompareRequest& request, const CancelCheck& cancelled,
                    v1::LocalizeResponse* response) {
  int64_t rows = 0;
  for (const ModeLocalization& mode : Localize(model, request, cancelled)) {
    v1::ModeLocalization* out_mode = response->add_modes();
    out_mode->set_mode(mode.mode);
    for (const LayerLocalization& layer : mode.layers) {
      v1::LayerLocalization* out_layer = out_mode->add_layers();
      out_layer->set_layer(layer.layer);
      for (const StageError& stage : layer.stages) {
        v1::StageError* out_stage = out_layer->add_stages();
        out_stage->set_stage(stage.stage);
        out_stage->set_point(CapturePointName(stage.output));
        out_stage->set_isolated(stage.isolated);
        out_stage->set_full(stage.full);
        ++rows;
      }
      out_layer->set_born(layer.stages[layer.born].stage);
      out_layer->set_grows(layer.stages[layer.grows].stage);
    }
  }
  return rows;
}

}  // namespace layerscope::server
