#include "client/report/channel_section.h"

#include <vector>

#include "client/report/breakdown_choosers.h"
#include "client/report/chooser.h"
#include "client/report/html_escape.h"
#include "client/report/html_table.h"
#include "client/text_format.h"

namespace layerscope::client::report {
namespace {

LineChartData ProfileChart(const v1::ErrorProfile& profile, const std::string& title, const std::string& x_label) {
  LineChartData chart;
  chart.title = title;
  chart.x_label = x_label;
  chart.y_label = "error";
  chart.logarithmic_y = true;
  LineSeries mse{"MSE", {}, {}};
  LineSeries max_abs{"max |d|", {}, {}};
  for (int i = 0; i < profile.mse_size(); ++i) {
    mse.x.push_back(i);
    mse.y.push_back(profile.mse(i));
  }
  for (int i = 0; i < profile.max_abs_size(); ++i) {
    max_abs.x.push_back(i);
    max_abs.y.push_back(profile.max_abs(i));
  }
  chart.series = {std::move(mse), std::move(max_abs)};
  return chart;
}

std::string TopChannels(const v1::ErrorBreakdown& breakdown) {
  std::vector<std::vector<HtmlCell>> rows;
  for (const v1::ChannelOutlier& outlier : breakdown.top_channels()) {
    rows.push_back({std::to_string(outlier.channel()), Format("%.6e", outlier.mse()), Format("%.6g", outlier.max_abs()),
                    Format("%.6g", outlier.ref_rms()),
                    breakdown.mse() > 0 ? Format("%.1f", outlier.mse() / breakdown.mse()) : std::string("-")});
  }
  return HtmlTable({"Channel", "MSE", "Max |d|", "Reference RMS", "MSE / capture MSE"}, rows);
}

}  // namespace

LineChartData ChannelErrorChart(const v1::ErrorBreakdown& breakdown) {
  return ProfileChart(breakdown.per_channel(), "Error per channel at " + BreakdownName(breakdown), "channel");
}

LineChartData PositionErrorChart(const v1::ErrorBreakdown& breakdown) {
  return ProfileChart(breakdown.per_position(), "Error per token position at " + BreakdownName(breakdown),
                      "token position");
}

std::string ChannelSection(const v1::BreakdownResponse& response) {
  std::string html = BreakdownChoosers("channels", response) +
                     "<p class=\"note\">Points with no error (0 on a logarithmic axis) break the line.</p>";
  for (const v1::ErrorBreakdown& breakdown : response.breakdowns()) {
    const std::string content =
        LineChartSvg(ChannelErrorChart(breakdown)) + LineChartSvg(PositionErrorChart(breakdown)) + "<figcaption>" +
        EscapeHtml(Format("%lld channels; capture MSE %.6e, max |d| %.6g. Top channels by MSE:",
                          static_cast<long long>(breakdown.channels()), breakdown.mse(), breakdown.max_abs())) +
        "</figcaption>" + TopChannels(breakdown);
    html += ChoosableFigure("channels", BreakdownKey(breakdown), content);
  }
  return html;
}

}  // namespace layerscope::client::report
