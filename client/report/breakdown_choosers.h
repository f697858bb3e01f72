// BreakdownChoosers: the mode, layer and point choosers of a section that shows one figure per ErrorBreakdown,
// with the options in the order the breakdowns came (modes in request order, layers ascending, points in request
// order), the figure key that matches them and the name a figure's title gives its breakdown.
#pragma once

#include <string>
#include <vector>

#include "layerscope/v1/analysis.pb.h"

namespace layerscope::client::report {

std::string BreakdownChoosers(const std::string& group, const v1::BreakdownResponse& response);
std::vector<std::string> BreakdownKey(const v1::ErrorBreakdown& breakdown);
// "2-1, layer 5, ssm_output".
std::string BreakdownName(const v1::ErrorBreakdown& breakdown);

}  // namespace layerscope::client::report
