// LocalizationSection: where each quantized mode's error is born and where it grows. Per (mode, layer), a chart of
// the layer's quantized stages in data-flow order: the error each adds run alone on the reference's input, next to
// the error its output shows in the mode's full run (both relative MSE, so stages of different scales compare);
// and a table of every layer's "born" and "grows" stages per mode.
#pragma once

#include <string>

#include "client/report/svg_line_chart.h"
#include "layerscope/v1/analysis.pb.h"

namespace layerscope::client::report {

std::string LocalizationSection(const v1::LocalizeResponse& response);

// x: the stage's place in the layer (ticks named by stage), y: relative MSE, logarithmic; series "alone" and
// "full run".
LineChartData StageErrorChart(const v1::ModeLocalization& mode, const v1::LayerLocalization& layer);

}  // namespace layerscope::client::report
