// HeatmapSvg: a grid of values as an inline SVG: one row per row label (the report's layers), one column per column
// label (its modes), each cell coloured by ColorScale with its value written in it and in its tooltip, and a colour
// bar with the scale's ticks beside the grid.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace layerscope::client::report {

struct HeatmapData {
  std::string title;
  std::vector<std::string> row_labels;
  std::vector<std::string> column_labels;
  // values[row][column]; empty: no value there (a grey cell marked "n/a").
  std::vector<std::vector<std::optional<double>>> values;
  std::string value_label;  // the colour bar's title, e.g. "MSE"
  bool logarithmic = false;
  bool higher_is_worse = true;
};

std::string HeatmapSvg(const HeatmapData& data);

// A cell's value as written in the cell: 3 significant digits, exponent form outside [0.01, 1000).
std::string CellLabel(double value);

}  // namespace layerscope::client::report
