// ColorScale: the colour of a value in the report's heatmaps. A value is placed on [0, 1] between the scale's ends
// (by its logarithm for errors that span decades) and coloured along the viridis ramp, which stays ordered in
// lightness when printed in grey and for colour-blind readers. The scale is oriented so that the bright end is
// always the worse end: a reader never has to check whether a metric grows with the error.
#pragma once

#include <string>

namespace layerscope::client::report {

class ColorScale {
 public:
  // [low, high] are the values at the ends (low < high, both > 0 when logarithmic); `higher_is_worse` says
  // which end is bright.
  ColorScale(double low, double high, bool logarithmic, bool higher_is_worse);

  // Where `value` lies between the ends, 0 at the dark end and 1 at the bright end; values outside the ends (and
  // values <= 0 on a logarithmic scale) are clamped to the nearer end.
  double Position(double value) const;
  // "#rrggbb".
  std::string ColorOf(double value) const { return RampColor(Position(value)); }

  // The ramp's colour at `t` in [0, 1] (clamped), interpolated between viridis' stops.
  static std::string RampColor(double t);

 private:
  double low_;
  double high_;
  bool logarithmic_;
  bool higher_is_worse_;
};

}  // namespace layerscope::client::report
