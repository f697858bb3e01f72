#include "client/report/distribution_section.h"

#include "client/report/breakdown_choosers.h"
#include "client/report/chooser.h"
#include "client/report/html_escape.h"
#include "client/text_format.h"

namespace layerscope::client::report {
namespace {

std::string Caption(const v1::ErrorBreakdown& breakdown) {
  const v1::AbsDiffHistogram& histogram = breakdown.histogram();
  std::string caption = Format("%lld finite pairs", static_cast<long long>(histogram.total()));
  if (histogram.zeros() > 0) {
    caption += Format(", %lld of them with |d| = 0 exactly (not drawn: a logarithmic axis has no 0)",
                      static_cast<long long>(histogram.zeros()));
  }
  caption += ". Percentiles of |d|:";
  for (const v1::Percentile& p : histogram.percentiles()) caption += Format(" P%g = %.6g;", p.q(), p.value());
  caption.back() = '.';
  return EscapeHtml(caption);
}

}  // namespace

HistogramData AbsDiffHistogramOf(const v1::ErrorBreakdown& breakdown) {
  const v1::AbsDiffHistogram& histogram = breakdown.histogram();
  HistogramData data;
  data.title = "|d| at " + BreakdownName(breakdown);
  data.edges.assign(histogram.edges().begin(), histogram.edges().end());
  for (const int64_t count : histogram.counts()) data.counts.push_back(static_cast<double>(count));
  data.logarithmic_x = true;
  data.x_label = "|mode - reference|";
  data.y_label = "pairs";
  for (const v1::Percentile& p : histogram.percentiles()) data.markers.push_back({p.value(), Format("P%g", p.q())});
  return data;
}

std::string DistributionSection(const v1::BreakdownResponse& response) {
  std::string html = BreakdownChoosers("distribution", response);
  for (const v1::ErrorBreakdown& breakdown : response.breakdowns()) {
    const std::string chart = breakdown.histogram().edges().empty()
                                  ? "<p>|d| is 0 for every pair at " + EscapeHtml(BreakdownName(breakdown)) + ".</p>"
                                  : HistogramSvg(AbsDiffHistogramOf(breakdown));
    html += ChoosableFigure("distribution", BreakdownKey(breakdown),
                            chart + "<figcaption>" + Caption(breakdown) + "</figcaption>");
  }
  return html;
}

}  // namespace layerscope::client::report
