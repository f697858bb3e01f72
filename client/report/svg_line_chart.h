// LineChartSvg: series of (x, y) points as an inline SVG line chart with a legend: the per-channel error of a
// capture (x: channel) and the localization chart (x: a stage, named by its tick) are drawn with it. A point whose
// y has no place on the axis (not finite, or <= 0 on a logarithmic one) breaks the line there.
#pragma once

#include <string>
#include <vector>

#include "client/report/chart_axis.h"

namespace layerscope::client::report {

struct LineSeries {
  std::string name;
  std::vector<double> x;
  std::vector<double> y;
};

struct LineChartData {
  std::string title;
  std::string x_label;
  std::string y_label;
  bool logarithmic_y = false;
  bool dots = false;          // a dot on every point (for few points)
  std::vector<Tick> x_ticks;  // empty: round values
  std::vector<LineSeries> series;
};

std::string LineChartSvg(const LineChartData& data);

// The colour of the i-th series (a categorical palette that repeats after 10).
std::string SeriesColor(size_t i);

}  // namespace layerscope::client::report
