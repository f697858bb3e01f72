// `layerscope effect [MODE...]`: what each mode's numeric error costs at the model's output (Analysis.ModelEffect,
// analysis.proto), next to the mode's error at the last layer's output (a Compare of block_output, so that users
// see what the layer error costs): KL divergence from the reference's next-token distribution, top-1 agreement and
// perplexity on the data.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "client/compare_result.h"
#include "layerscope/v1/analysis.pb.h"

namespace layerscope::client {

// The table: one row per mode, with its relative MSE in `layer_errors` (a comparison of one layer and one point).
std::string EffectText(const v1::ModelEffectResponse& response, const CompareResult& layer_errors);
// The `effect` document of client/JSON_SCHEMA.md.
nlohmann::ordered_json EffectJson(const v1::ModelEffectResponse& response, const CompareResult& layer_errors);

}  // namespace layerscope::client
