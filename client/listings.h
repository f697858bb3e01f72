// The text reports of `modes`, `models`, `points` and `jobs`: one ASCII table each, in the server's order; and
// `job`'s fields, one per line.
#pragma once

#include <string>

#include "layerscope/v1/layerscope.pb.h"

namespace layerscope::client {

// Name, precision ("W8A8" for quantized modes), description and quantized stages of every mode, the sentences
// wrapped to 80 columns; then how to compose a mode with --mode-spec (the server's spec syntax, one "field: a|b"
// per line), when the server states it.
std::string ModesTable(const v1::ListModesResponse& modes);
// One row per model (shape, which modes can run), then how each W8A8 model came to be, when the server says.
std::string ModelsTable(const v1::ListModelsResponse& models);
std::string PointsTable(const v1::ListCapturePointsResponse& points);
// One row per job: id, owner, state, progress, rows, creation time (UTC).
std::string JobsTable(const v1::ListJobsResponse& jobs);
// Every field of the job that is set, "name: value" per line; times in UTC.
std::string JobDetails(const v1::Job& job);

}  // namespace layerscope::client
