#include "client/report/html_report.h"

#include "client/report/channel_section.h"
#include "client/report/distribution_section.h"
#include "client/report/heatmap_section.h"
#include "client/report/html_escape.h"
#include "client/report/html_page.h"
#include "client/report/localization_section.h"
#include "client/report/model_effect_section.h"
#include "client/report/summary_section.h"

namespace layerscope::client::report {
namespace {

template <typename Response, typename Render>
std::string SectionOrNote(const Fetched<Response>& fetched, const Render& render) {
  if (fetched.response) return render(*fetched.response);
  return "<p class=\"unavailable\">Not available from this server: " + EscapeHtml(fetched.unavailable) + "</p>";
}

}  // namespace

std::string HtmlReport(const ReportData& data) {
  const v1::CompareSummary& summary = data.comparison.summary();
  HtmlPage page("layerscope report: " + summary.model() + ", modes vs " + summary.reference_mode());
  page.AddSection("summary", "Summary", SummarySection(data.comparison));
  page.AddSection("heatmaps", "Layers x modes", HeatmapSection(data.comparison));
  page.AddSection("distributions", "|d| distributions", SectionOrNote(data.breakdowns, DistributionSection));
  page.AddSection("channels", "Per-channel error", SectionOrNote(data.breakdowns, ChannelSection));
  page.AddSection("localization", "Error localization", SectionOrNote(data.localization, LocalizationSection));
  page.AddSection("model", "Model-level effect",
                  SectionOrNote(data.model_effect, [&](const v1::ModelEffectResponse& effect) {
                    return ModelEffectSection(effect, data.comparison);
                  }));
  return page.Render();
}

}  // namespace layerscope::client::report
