// `layerscope localize --mode M`: where a quantized mode's error is born and where it grows, per layer
// (Analysis.Localize, analysis.proto). For each stage of each layer: the error the stage adds alone, fed the
// reference's input (isolated), next to the error its output shows in the mode's full run; both relative MSE.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "layerscope/v1/analysis.pb.h"

namespace layerscope::client {

// Per mode and layer: where the error is born and where it grows, then the stages' two errors.
std::string LocalizeText(const v1::LocalizeResponse& response);
// The `localize` document of client/JSON_SCHEMA.md.
nlohmann::ordered_json LocalizeJson(const v1::LocalizeResponse& response);

}  // namespace layerscope::client
