// DistributionSection: the distribution of |d| = |mode - reference| of each (mode, layer, point) the breakdowns
// cover, as a histogram over the server's log-spaced bins with its exact percentiles marked, one shown at a time
// (choosers: mode, layer, point).
#pragma once

#include <string>

#include "client/report/svg_histogram.h"
#include "layerscope/v1/analysis.pb.h"

namespace layerscope::client::report {

std::string DistributionSection(const v1::BreakdownResponse& response);

// The histogram of one breakdown: its bins as they are (pairs with |d| = 0, which no log-spaced bin holds, are
// named in the caption instead) and its percentiles as markers "P50", "P99.9", ...
HistogramData AbsDiffHistogramOf(const v1::ErrorBreakdown& breakdown);

}  // namespace layerscope::client::report
