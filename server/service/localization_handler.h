// The two halves of Analysis.Localize (analysis.proto) that AnalysisService calls around taking a comparison slot:
// validating the request, and running the localization (core/analysis/localization.h) into the response.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/analysis/analysis_runs.h"
#include "core/compare/resident_model.h"
#include "layerscope/v1/analysis.pb.h"
#include "server/config/server_config.h"
#include "server/service/model_entry.h"
#include "server/service/request_validator.h"

namespace layerscope::server {

// The comparison validated as Compare validates it, plus: `points` must be empty (request.points of the result is
// then empty too: the stages' own points are captured) and every mode quantized. Throws Error naming the field.
ValidatedCompare ValidateLocalize(const std::vector<ModelEntry>& models, const ServerLimits& limits,
                                  const std::string& data_root, const v1::LocalizeRequest& request);

// Fills response->modes (not the summary) and returns how many stage errors it holds. Throws Error, kCancelled when
// `cancelled` turns true.
int64_t RunLocalize(const ResidentModel& model, const CompareRequest& request, const CancelCheck& cancelled,
                    v1::LocalizeResponse* response);

}  // namespace layerscope::server
