// `layerscope breakdown --mode M --layers L --points P`: where the error of each (mode, layer, point) lies
// (Analysis.Breakdown, analysis.proto): the worst samples, token positions and channels by MSE, and the |d|
// percentiles. The text shows the top `rows` of each; the JSON document holds every array in full.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "layerscope/v1/analysis.pb.h"

namespace layerscope::client {

// Per breakdown: its totals, the top `rows` samples, positions and channels by MSE, and the |d| percentiles.
std::string BreakdownText(const v1::BreakdownResponse& response, int rows);
// The `breakdown` document of client/JSON_SCHEMA.md.
nlohmann::ordered_json BreakdownJson(const v1::BreakdownResponse& response);

// Writes the profiles of every breakdown as .npy files next to `json_path` (breakdown --out), for numpy users: per
// breakdown and slice kind, STEM_MODE_layer_L_POINT_{per_sample,per_position,per_channel}.npy, float32 [2, n] (row 0
// MSE, row 1 max |d|), STEM being `json_path` without ".json". Returns the paths written; throws ClientError
// (kExitFailure) naming a file it cannot write.
std::vector<std::string> WriteBreakdownNpy(const v1::BreakdownResponse& response, const std::string& json_path);

}  // namespace layerscope::client
