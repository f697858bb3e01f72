#include "client/report/svg_heatmap.h"

#include <algorithm>
#include <cmath>

#include "client/report/chart_axis.h"
#include "client/report/color_scale.h"
#include "client/report/html_escape.h"
#include "client/text_format.h"

namespace layerscope::client::report {
namespace {

constexpr double kCellWidth = 64;
constexpr double kCellHeight = 20;
constexpr double kLeft = 70;      // room for the row labels
constexpr double kTop = 78;       // room for the title and the slanted column labels
constexpr double kBarWidth = 14;  // the colour bar
constexpr int kBarSteps = 32;

}  // namespace

std::string CellLabel(double value) {
  const double magnitude = std::fabs(value);
  if (value == 0) return "0";
  return magnitude >= 0.01 && magnitude < 1000 ? Format("%.3g", value) : Format("%.2e", value);
}

std::string HeatmapSvg(const HeatmapData& data) {
  std::vector<double> finite;
  for (const auto& row : data.values) {
    for (const std::optional<double>& v : row) {
      if (v && std::isfinite(*v)) finite.push_back(*v);
    }
  }
  const double grid_width = kCellWidth * data.column_labels.size();
  const double grid_height = kCellHeight * data.row_labels.size();
  const double bar_x = kLeft + grid_width + 24;
  const double bar_height = std::max(grid_height, 120.0);
  // The scale spans the values themselves (not round numbers around them), so that every colour is used; the colour
  // bar's axis is the scale, so the colours and the bar's ticks agree.
  double low = INFINITY, high = -INFINITY;
  for (const double v : finite) {
    if (data.logarithmic && v <= 0) continue;
    low = std::min(low, v);
    high = std::max(high, v);
  }
  if (low > high) {
    low = data.logarithmic ? 0.1 : 0;
    high = 1;
  } else if (low == high) {
    high = data.logarithmic ? low * 10 : low + std::max(std::fabs(low), 1.0);
  }
  const ChartAxis bar(low, high, data.logarithmic, kTop + bar_height, kTop);
  const ColorScale scale(bar.low(), bar.high(), data.logarithmic, data.higher_is_worse);

  const double width = bar_x + kBarWidth + 70;
  const double height = kTop + bar_height + 30;
  std::string svg =
      Format("<svg class=\"chart heatmap\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" role=\"img\">",
             width, height, width, height);
  svg += "<text class=\"chart-title\" x=\"4\" y=\"16\">" + EscapeHtml(data.title) + "</text>";
  for (size_t c = 0; c < data.column_labels.size(); ++c) {
    const double x = kLeft + kCellWidth * (c + 0.5);
    svg += Format("<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" transform=\"rotate(-30 %.1f %.1f)\">", x, kTop - 6, x,
                  kTop - 6) +
           EscapeHtml(data.column_labels[c]) + "</text>";
  }
  for (size_t r = 0; r < data.row_labels.size(); ++r) {
    const double y = kTop + kCellHeight * r;
    svg += Format("<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">", kLeft - 6, y + 14) +
           EscapeHtml(data.row_labels[r]) + "</text>";
    for (size_t c = 0; c < data.column_labels.size(); ++c) {
      const double x = kLeft + kCellWidth * c;
      const std::optional<double> value = c < data.values[r].size() ? data.values[r][c] : std::optional<double>();
      const std::string where = data.row_labels[r] + ", " + data.column_labels[c] + ": ";
      if (!value || !std::isfinite(*value)) {
        const std::string shown = value ? Format("%g", *value) : std::string("n/a");
        svg += Format("<rect class=\"missing\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\">", x, y, kCellWidth,
                      kCellHeight) +
               "<title>" + EscapeHtml(where + shown) + "</title></rect>";
        svg +=
            Format("<text class=\"cell\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", x + kCellWidth / 2, y + 14) +
            EscapeHtml(shown) + "</text>";
        continue;
      }
      const double t = scale.Position(*value);
      svg += Format("<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\">", x, y, kCellWidth,
                    kCellHeight, ColorScale::RampColor(t).c_str()) +
             "<title>" + EscapeHtml(where + Format("%.6e", *value)) + "</title></rect>";
      // Dark text on the bright end of the ramp, light text on the dark end.
      svg += Format("<text class=\"cell%s\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", t > 0.6 ? "" : " on-dark",
                    x + kCellWidth / 2, y + 14) +
             CellLabel(*value) + "</text>";
    }
  }

  // The colour bar: the ramp in steps, bright end up when higher is worse.
  for (int i = 0; i < kBarSteps; ++i) {
    const double t = (i + 0.5) / kBarSteps;
    const double y = kTop + bar_height * (1 - static_cast<double>(i + 1) / kBarSteps);
    svg += Format("<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.2f\" fill=\"%s\"/>", bar_x, y, kBarWidth,
                  bar_height / kBarSteps + 0.5, ColorScale::RampColor(data.higher_is_worse ? t : 1 - t).c_str());
  }
  std::vector<Tick> ticks = bar.Ticks();
  if (ticks.size() < 2) ticks = {{bar.low(), TickLabel(bar.low())}, {bar.high(), TickLabel(bar.high())}};
  for (const Tick& tick : ticks) {
    const double y = bar.Pixel(tick.value);
    svg += Format("<line class=\"axis\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>", bar_x + kBarWidth, y,
                  bar_x + kBarWidth + 4, y);
    svg += Format("<text class=\"tick\" x=\"%.1f\" y=\"%.1f\">", bar_x + kBarWidth + 7, y + 4) +
           EscapeHtml(tick.label) + "</text>";
  }
  svg += Format("<text class=\"axis-title\" x=\"%.1f\" y=\"%.1f\">", bar_x, kTop - 8) + EscapeHtml(data.value_label) +
         "</text>";
  return svg + "</svg>";
}

}  // namespace layerscope::client::report
