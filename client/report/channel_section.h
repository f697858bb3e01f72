// ChannelSection: where in a capture the error of each (mode, layer, point) the breakdowns cover lies: the MSE of
// every channel (a few outlier channels carrying most of the error is the pattern quantization researchers look
// for), the MSE of every token position, and the top outlier channels with the reference's RMS in them, one
// (mode, layer, point) shown at a time.
#pragma once

#include <string>

#include "client/report/svg_line_chart.h"
#include "layerscope/v1/analysis.pb.h"

namespace layerscope::client::report {

std::string ChannelSection(const v1::BreakdownResponse& response);

// MSE and max |d| per channel (x: the channel index), on a logarithmic y axis.
LineChartData ChannelErrorChart(const v1::ErrorBreakdown& breakdown);
// MSE and max |d| per token position (x: the position).
LineChartData PositionErrorChart(const v1::ErrorBreakdown& breakdown);

}  // namespace layerscope::client::report
