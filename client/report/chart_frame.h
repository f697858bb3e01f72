// ChartFrame: the shared geometry of the report's x-y charts (histograms, line charts): the SVG's size, the plot
// area inside it and the margins the axes, their labels and the title take.
#pragma once

#include <string>

namespace layerscope::client::report {

struct ChartFrame {
  double width = 620;
  double height = 280;
  double left = 78;  // the y axis' tick labels and title
  double right = 20;
  double top = 30;     // the title
  double bottom = 52;  // the x axis' tick labels and title

  double plot_left() const { return left; }
  double plot_right() const { return width - right; }
  double plot_top() const { return top; }
  double plot_bottom() const { return height - bottom; }

  // The opening <svg> tag of class `css_class` and the title.
  std::string Open(const std::string& css_class, const std::string& title) const;
};

}  // namespace layerscope::client::report
