#include "client/report/svg_histogram.h"

#include <algorithm>

#include "client/report/chart_frame.h"
#include "client/report/html_escape.h"
#include "client/text_format.h"

namespace layerscope::client::report {

std::string HistogramSvg(const HistogramData& data) {
  const ChartFrame frame;
  std::vector<double> x_values = data.edges;
  for (const Tick& marker : data.markers) x_values.push_back(marker.value);
  const ChartAxis x = ChartAxis::Fitting(x_values, data.logarithmic_x, frame.plot_left(), frame.plot_right());
  const ChartAxis y = ChartAxis::Fitting(data.counts, false, frame.plot_bottom(), frame.plot_top());

  std::string svg = frame.Open("histogram", data.title);
  const size_t bins = std::min(data.counts.size(), data.edges.empty() ? 0 : data.edges.size() - 1);
  for (size_t i = 0; i < bins; ++i) {
    if (data.counts[i] <= 0) continue;
    const double left = x.Pixel(data.edges[i]);
    const double right = x.Pixel(data.edges[i + 1]);
    const double top = y.Pixel(data.counts[i]);
    svg += Format("<rect class=\"bar\" x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\">", left, top,
                  std::max(right - left, 0.5), frame.plot_bottom() - top) +
           "<title>" + EscapeHtml(Format("[%.4g, %.4g): %.0f", data.edges[i], data.edges[i + 1], data.counts[i])) +
           "</title></rect>";
  }
  for (size_t i = 0; i < data.markers.size(); ++i) {
    const double px = x.Pixel(data.markers[i].value);
    svg += Format("<line class=\"marker\" x1=\"%.2f\" y1=\"%.1f\" x2=\"%.2f\" y2=\"%.1f\"/>", px, frame.plot_bottom(),
                  px, frame.plot_top());
    // Staggered, so that the labels of close percentiles do not overprint.
    svg += Format("<text class=\"marker-label\" x=\"%.2f\" y=\"%.1f\">", px + 3,
                  frame.plot_top() + 10 + 11 * static_cast<double>(i % 4)) +
           EscapeHtml(data.markers[i].label) + "</text>";
  }
  svg += XAxisSvg(x, frame.plot_bottom(), x.Ticks(), data.x_label);
  svg += YAxisSvg(y, frame.plot_left(), y.Ticks(), data.y_label);
  return svg + "</svg>";
}

}  // namespace layerscope::client::report
