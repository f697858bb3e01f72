#include "client/report/color_scale.h"

#include <algorithm>
#include <cmath>

#include "client/text_format.h"

namespace layerscope::client::report {
namespace {

// viridis (matplotlib) at t = 0, 1/8, ..., 1.
constexpr int kStops = 9;
constexpr unsigned char kViridis[kStops][3] = {{68, 1, 84},    {71, 44, 122},  {59, 81, 139},
                                               {44, 113, 142}, {33, 144, 141}, {39, 173, 129},
                                               {92, 200, 99},  {170, 220, 50}, {253, 231, 37}};

}  // namespace

ColorScale::ColorScale(double low, double high, bool logarithmic, bool higher_is_worse)
    : low_(low), high_(high), logarithmic_(logarithmic), higher_is_worse_(higher_is_worse) {}

double ColorScale::Position(double value) const {
  double t = 0;
  if (high_ > low_) {
    if (logarithmic_) {
      t = value > 0 ? (std::log10(value) - std::log10(low_)) / (std::log10(high_) - std::log10(low_)) : 0;
    } else {
      t = (value - low_) / (high_ - low_);
    }
  }
  t = std::clamp(t, 0.0, 1.0);
  return higher_is_worse_ ? t : 1 - t;
}

std::string ColorScale::RampColor(double t) {
  const double scaled = std::clamp(t, 0.0, 1.0) * (kStops - 1);
  const int stop = std::min(static_cast<int>(scaled), kStops - 2);
  const double f = scaled - stop;
  int rgb[3];
  for (int c = 0; c < 3; ++c) {
    rgb[c] = static_cast<int>(std::lround(kViridis[stop][c] + f * (kViridis[stop + 1][c] - kViridis[stop][c])));
  }
  return Format("#%02x%02x%02x", rgb[0], rgb[1], rgb[2]);
}

}  // namespace layerscope::client::report
