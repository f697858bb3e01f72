#include "client/report/svg_line_chart.h"

#include <algorithm>
#include <cmath>

#include "client/report/chart_frame.h"
#include "client/report/html_escape.h"
#include "client/text_format.h"

namespace layerscope::client::report {

std::string SeriesColor(size_t i) {
  // Tableau 10.
  static const char* const kPalette[] = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
                                         "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"};
  return kPalette[i % 10];
}

std::string LineChartSvg(const LineChartData& data) {
  ChartFrame frame;
  frame.width = 900;  // room for a point per channel at d_inner = 1536
  frame.right = 40;   // and for the last tick's label (a stage name) centred on the axis' end
  frame.top = 30 + 14 * static_cast<double>(data.series.size());  // the legend, a line per series
  frame.height += frame.top - 30;
  std::vector<double> xs, ys;
  for (const LineSeries& s : data.series) {
    xs.insert(xs.end(), s.x.begin(), s.x.end());
    ys.insert(ys.end(), s.y.begin(), s.y.end());
  }
  for (const Tick& tick : data.x_ticks) xs.push_back(tick.value);
  ChartAxis x = ChartAxis::Fitting(xs, false, frame.plot_left(), frame.plot_right());
  // An x axis fits the points, not zero: channels or stages start where they start.
  double x_low = INFINITY;
  for (const double v : xs) x_low = std::isfinite(v) ? std::min(x_low, v) : x_low;
  if (std::isfinite(x_low) && x_low < x.high())
    x = ChartAxis(x_low, x.high(), false, frame.plot_left(), frame.plot_right());
  const ChartAxis y = ChartAxis::Fitting(ys, data.logarithmic_y, frame.plot_bottom(), frame.plot_top());

  std::string svg = frame.Open("line-chart", data.title);
  for (size_t i = 0; i < data.series.size(); ++i) {
    const LineSeries& s = data.series[i];
    const std::string color = SeriesColor(i);
    std::string path;
    bool pen_down = false;
    std::string dots;
    for (size_t k = 0; k < s.x.size() && k < s.y.size(); ++k) {
      if (!std::isfinite(s.x[k]) || !std::isfinite(s.y[k]) || (data.logarithmic_y && s.y[k] <= 0)) {
        pen_down = false;
        continue;
      }
      const double px = x.Pixel(s.x[k]);
      const double py = y.Pixel(s.y[k]);
      path += Format("%s%.2f %.2f ", pen_down ? "L" : "M", px, py);
      pen_down = true;
      if (data.dots) {
        dots += Format("<circle cx=\"%.2f\" cy=\"%.2f\" r=\"3\" fill=\"%s\">", px, py, color.c_str()) + "<title>" +
                EscapeHtml(s.name + Format(": %.6g, %.6e", s.x[k], s.y[k])) + "</title></circle>";
      }
    }
    if (!path.empty()) {
      path.pop_back();
      svg += "<path class=\"series\" d=\"" + path + "\" stroke=\"" + color + "\"/>";
    }
    svg += dots;
    const double legend_y = 30 + 14 * static_cast<double>(i);
    svg += Format("<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"2\"/>",
                  frame.plot_left(), legend_y - 4, frame.plot_left() + 18, legend_y - 4, color.c_str());
    svg += Format("<text class=\"tick\" x=\"%.1f\" y=\"%.1f\">", frame.plot_left() + 24, legend_y) +
           EscapeHtml(s.name) + "</text>";
  }
  svg += XAxisSvg(x, frame.plot_bottom(), data.x_ticks.empty() ? x.Ticks() : data.x_ticks, data.x_label);
  svg += YAxisSvg(y, frame.plot_left(), y.Ticks(), data.y_label);
  return svg + "</svg>";
}

}  // namespace layerscope::client::report
