#include "client/report/chart_frame.h"

#include "client/report/html_escape.h"
#include "client/text_format.h"

namespace layerscope::client::report {

std::string ChartFrame::Open(const std::string& css_class, const std::string& title) const {
  return Format("<svg class=\"chart %s\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" role=\"img\">",
                EscapeHtml(css_class).c_str(), width, height, width, height) +
         "<text class=\"chart-title\" x=\"4\" y=\"16\">" + EscapeHtml(title) + "</text>";
}

}  // namespace layerscope::client::report
