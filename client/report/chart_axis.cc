#include "client/report/chart_axis.h"

#include <algorithm>
#include <cmath>

#include "client/report/html_escape.h"
#include "client/text_format.h"

namespace layerscope::client::report {
namespace {

constexpr double kTickLength = 5;

// The step of about (high - low) / 5 among 1, 2 and 5 x 10^k.
double NiceStep(double low, double high) {
  const double rough = (high - low) / 5;
  const double power = std::pow(10.0, std::floor(std::log10(rough)));
  for (const double factor : {1.0, 2.0, 5.0}) {
    if (factor * power >= rough) return factor * power;
  }
  return 10 * power;
}

}  // namespace

ChartAxis::ChartAxis(double low, double high, bool logarithmic, double pixel_low, double pixel_high)
    : low_(low), high_(high), logarithmic_(logarithmic), pixel_low_(pixel_low), pixel_high_(pixel_high) {}

ChartAxis ChartAxis::Fitting(const std::vector<double>& values, bool logarithmic, double pixel_low, double pixel_high) {
  double low = INFINITY;
  double high = -INFINITY;
  for (const double v : values) {
    if (!std::isfinite(v) || (logarithmic && v <= 0)) continue;
    low = std::min(low, v);
    high = std::max(high, v);
  }
  if (logarithmic) {
    if (low > high) return ChartAxis(0.1, 1, true, pixel_low, pixel_high);
    low = std::pow(10.0, std::floor(std::log10(low)));
    high = std::pow(10.0, std::ceil(std::log10(high)));
    if (low == high) high = low * 10;
    return ChartAxis(low, high, true, pixel_low, pixel_high);
  }
  if (low > high) return ChartAxis(0, 1, false, pixel_low, pixel_high);
  low = std::min(low, 0.0);
  if (low == high) high = low == 0 ? 1 : low + std::fabs(low);
  return ChartAxis(low, high, false, pixel_low, pixel_high);
}

double ChartAxis::Pixel(double value) const {
  double t = 0;
  if (logarithmic_) {
    t = value > 0 ? (std::log10(value) - std::log10(low_)) / (std::log10(high_) - std::log10(low_)) : 0;
  } else {
    t = (value - low_) / (high_ - low_);
  }
  return pixel_low_ + std::clamp(t, 0.0, 1.0) * (pixel_high_ - pixel_low_);
}

std::vector<Tick> ChartAxis::Ticks() const {
  std::vector<Tick> ticks;
  if (logarithmic_) {
    const int first = static_cast<int>(std::ceil(std::log10(low_) - 1e-9));
    const int last = static_cast<int>(std::floor(std::log10(high_) + 1e-9));
    const int every = (last - first) / 8 + 1;
    for (int e = first; e <= last; e += every) ticks.push_back({std::pow(10.0, e), TickLabel(std::pow(10.0, e))});
    return ticks;
  }
  const double step = NiceStep(low_, high_);
  // Counted in whole steps from zero, so that ticks are exact multiples of the step (no 0.30000000000000004).
  for (long long k = static_cast<long long>(std::ceil(low_ / step - 1e-9)); k * step <= high_ + step * 1e-9; ++k) {
    const double value = k == 0 ? 0.0 : k * step;
    ticks.push_back({value, TickLabel(value)});
  }
  return ticks;
}

std::string TickLabel(double value) { return value == 0 ? "0" : Format("%.4g", value); }

std::string XAxisSvg(const ChartAxis& axis, double y, const std::vector<Tick>& ticks, const std::string& title) {
  const double left = axis.Pixel(axis.low());
  const double right = axis.Pixel(axis.high());
  std::string svg = Format("<line class=\"axis\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>", left, y, right, y);
  for (const Tick& tick : ticks) {
    const double x = axis.Pixel(tick.value);
    svg += Format("<line class=\"axis\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>", x, y, x, y + kTickLength);
    svg += Format("<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", x, y + kTickLength + 12) +
           EscapeHtml(tick.label) + "</text>";
  }
  svg += Format("<text class=\"axis-title\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", (left + right) / 2,
                y + kTickLength + 30) +
         EscapeHtml(title) + "</text>";
  return svg;
}

std::string YAxisSvg(const ChartAxis& axis, double x, const std::vector<Tick>& ticks, const std::string& title) {
  const double bottom = axis.Pixel(axis.low());
  const double top = axis.Pixel(axis.high());
  std::string svg = Format("<line class=\"axis\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>", x, bottom, x, top);
  for (const Tick& tick : ticks) {
    const double y = axis.Pixel(tick.value);
    svg += Format("<line class=\"axis\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>", x - kTickLength, y, x, y);
    svg += Format("<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">", x - kTickLength - 3, y + 4) +
           EscapeHtml(tick.label) + "</text>";
  }
  const double middle = (bottom + top) / 2;
  svg += Format(
             "<text class=\"axis-title\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" "
             "transform=\"rotate(-90 %.1f %.1f)\">",
             x - 52, middle, x - 52, middle) +
         EscapeHtml(title) + "</text>";
  return svg;
}

}  // namespace layerscope::client::report
