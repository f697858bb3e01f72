// The `--json` documents: the full results of compare and compare-all, and the modes, models and points lists.
// Their layout is client/JSON_SCHEMA.md; bump kJsonSchemaVersion on any incompatible change. Every number is
// finite: a value that is NaN, infinite or left absent by the server is written as null, and the object's
// `null_reasons` says why, so the output is always valid JSON and never silently loses a NaN.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "client/compare_result.h"
#include "layerscope/v1/layerscope.pb.h"

namespace layerscope::client {

inline constexpr int kJsonSchemaVersion = 1;

// `command` is "compare" or "compare-all".
nlohmann::ordered_json CompareJson(const std::string& command, const CompareResult& result);
// The `summary` object of a comparison (also in the `relations` document).
nlohmann::ordered_json SummaryJson(const v1::CompareSummary& summary);
nlohmann::ordered_json ModesJson(const v1::ListModesResponse& modes);
nlohmann::ordered_json ModelsJson(const v1::ListModelsResponse& models);
nlohmann::ordered_json PointsJson(const v1::ListCapturePointsResponse& points);

}  // namespace layerscope::client
