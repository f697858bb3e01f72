#include "client/report/summary_section.h"

#include <optional>
#include <vector>

#include "client/report/html_escape.h"
#include "client/report/html_table.h"
#include "client/text_format.h"
#include "core/metrics/ratings.h"

namespace layerscope::client::report {
namespace {

HtmlCell Rated(const std::string& text, const std::string& rating) { return HtmlCell(text, RatingClass(rating)); }

HtmlCell CorrelationCell(const std::optional<double>& correlation) {
  return correlation ? Rated(Format("%.6f", *correlation), RateCorrelation(correlation)) : HtmlCell("undefined");
}

std::string RunTable(const v1::CompareSummary& summary) {
  std::string modes;
  for (const std::string& mode : summary.modes()) modes += (modes.empty() ? "" : ", ") + mode;
  std::string layers;
  for (const int layer : summary.layers()) layers += (layers.empty() ? "" : ", ") + std::to_string(layer);
  std::string points;
  for (const std::string& point : summary.points()) points += (points.empty() ? "" : ", ") + point;
  return HtmlTable({}, {{"model", summary.model()},
                        {"device", summary.device()},
                        {"reference", summary.reference_mode()},
                        {"modes", modes},
                        {"layers", layers},
                        {"points", points},
                        {"data", Format("%d samples of %d tokens", summary.samples(), summary.seq_len())}});
}

std::string AllModesTable(const CompareResult& result, const std::string& point) {
  const v1::CompareSummary& summary = result.summary();
  std::vector<std::vector<HtmlCell>> rows;
  for (const std::string& mode : summary.modes()) {
    const std::vector<const v1::MetricsRow*> layers = result.Rows(mode, point);
    if (layers.empty()) {
      rows.push_back({mode, "N/A", "N/A", "N/A", "N/A", "N/A"});
      continue;
    }
    const v1::Metrics& first = layers.front()->metrics();
    const v1::Metrics& last = layers.back()->metrics();
    rows.push_back({mode, Rated(Format("%.6e", first.mse()), RateMse(first.mse())), Format("%.6f", first.mae()),
                    Rated(Format("%.6e", last.mse()), RateMse(last.mse())), Format("%.6f", last.mae()),
                    CorrelationCell(AverageOverLayers(layers).correlation),
                    Rated(Format("%.3f%%", last.relative_mae() * 100), RateRelativeMae(last.relative_mae()))});
  }
  return HtmlTable(
      {"Mode", "Layer 0 MSE", "Layer 0 MAE", "Last Layer MSE", "Last Layer MAE", "Avg Corr", "Last Layer Rel MAE"},
      rows);
}

std::string LayerTable(const std::vector<const v1::MetricsRow*>& layers) {
  std::vector<std::vector<HtmlCell>> rows;
  for (const v1::MetricsRow* row : layers) {
    const v1::Metrics& m = row->metrics();
    rows.push_back({std::to_string(row->layer()), Rated(Format("%.6e", m.mse()), RateMse(m.mse())),
                    Format("%.6f", m.rmse()), Format("%.6f", m.mae()), CorrelationCell(CorrelationOf(m)),
                    Rated(Format("%.3f%%", m.relative_mae() * 100), RateRelativeMae(m.relative_mae())),
                    m.has_sqnr_db() ? Format("%.2f", m.sqnr_db()) : "inf", Format("%.6f", m.max_abs_diff()),
                    Format("%.6f", m.p99())});
  }
  const LayerAverages avg = AverageOverLayers(layers);
  rows.push_back({"average", Rated(Format("%.6e", avg.mse), RateMse(avg.mse)), "", Format("%.6f", avg.mae),
                  CorrelationCell(avg.correlation),
                  Rated(Format("%.3f%%", avg.relative_mae * 100), RateRelativeMae(avg.relative_mae)), "", "", ""});
  return HtmlTable({"Layer", "MSE", "RMSE", "MAE", "Correlation", "Rel MAE", "SQNR dB", "Max |d|", "P99 |d|"}, rows);
}

}  // namespace

std::string RatingClass(const std::string& rating) {
  std::string css = rating;
  for (char& c : css) c = c == ' ' ? '-' : c;
  return css;
}

std::string SummarySection(const CompareResult& result) {
  const v1::CompareSummary& summary = result.summary();
  std::string html = RunTable(summary);
  for (const std::string& point : summary.points()) {
    html += "<h3>All modes vs " + EscapeHtml(summary.reference_mode()) + " at " + EscapeHtml(point) + "</h3>";
    html += AllModesTable(result, point);
  }
  html += "<h3>Per layer</h3>";
  for (const std::string& mode : summary.modes()) {
    for (const std::string& point : summary.points()) {
      html += "<details><summary>" + EscapeHtml(mode) + " at " + EscapeHtml(point) + "</summary>" +
              LayerTable(result.Rows(mode, point)) + "</details>";
    }
  }
  return html;
}

}  // namespace layerscope::client::report
