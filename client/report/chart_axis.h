// ChartAxis: a range of values drawn along one side of a chart's plot area: where a value lands in pixels, which
// round values get a tick, and the SVG of the axis line, its ticks, their labels and the axis title. Logarithmic
// axes are for errors that span decades (MSE from 1e-12 to 1); their ticks are powers of ten.
#pragma once

#include <string>
#include <vector>

namespace layerscope::client::report {

struct Tick {
  double value;
  std::string label;
};

class ChartAxis {
 public:
  // `low` < `high`, both > 0 when `logarithmic`; `pixel_low` and `pixel_high` are where they land (a y axis runs
  // upwards, so its pixel_low is the larger coordinate).
  ChartAxis(double low, double high, bool logarithmic, double pixel_low, double pixel_high);

  // The smallest range that holds the finite `values` and suits an axis: for a logarithmic one, from the power of
  // ten at or below the smallest positive value to the one at or above the largest (values <= 0 have no place on
  // it); for a linear one, from min(0, smallest) to the largest. A range of one value, or of none, is widened so
  // that low < high.
  static ChartAxis Fitting(const std::vector<double>& values, bool logarithmic, double pixel_low, double pixel_high);

  // The pixel of `value`, clamped to the axis (a value <= 0 on a logarithmic axis lands at its low end).
  double Pixel(double value) const;
  // Round values within the range, labelled: 1, 2 or 5 x 10^k steps, at most about 6 of them; on a logarithmic
  // axis, powers of ten (every second, third, ... one when there are more than 8).
  std::vector<Tick> Ticks() const;

  double low() const { return low_; }
  double high() const { return high_; }
  bool logarithmic() const { return logarithmic_; }

 private:
  double low_;
  double high_;
  bool logarithmic_;
  double pixel_low_;
  double pixel_high_;
};

// A tick value in a few characters: "0", "0.25", "1000", "1e-05", "2.5e+05".
std::string TickLabel(double value);

// An x axis along y = `y`, from the axis' low to its high pixel, with `ticks` below it and `title` under them.
std::string XAxisSvg(const ChartAxis& axis, double y, const std::vector<Tick>& ticks, const std::string& title);
// A y axis along x = `x`, with `ticks` to its left and `title` turned upright left of them.
std::string YAxisSvg(const ChartAxis& axis, double x, const std::vector<Tick>& ticks, const std::string& title);

}  // namespace layerscope::client::report
