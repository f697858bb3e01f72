// The text reports of `modes`, `models` and `points`: one ASCII table each, in the server's order.
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

}  // namespace layerscope::client
