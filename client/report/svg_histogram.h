// HistogramSvg: a distribution as an inline SVG bar chart: one bar per bin between its edges (on a logarithmic x
// axis for the log-spaced bins of |d|), its height the bin's count, and optional marked values (percentiles) as
// labelled vertical lines.
#pragma once

#include <string>
#include <vector>

#include "client/report/chart_axis.h"

namespace layerscope::client::report {

struct HistogramData {
  std::string title;
  std::vector<double> edges;   // ascending, one more than counts
  std::vector<double> counts;  // per bin
  bool logarithmic_x = false;
  std::string x_label;
  std::string y_label = "count";
  std::vector<Tick> markers;  // drawn as dashed lines labelled with the Tick's label
};

std::string HistogramSvg(const HistogramData& data);

}  // namespace layerscope::client::report
