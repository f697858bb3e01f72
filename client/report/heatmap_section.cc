#include "client/report/heatmap_section.h"

#include <algorithm>
#include <functional>
#include <limits>
#include <optional>
#include <set>
#include <stdexcept>
#include <vector>

#include "client/report/chooser.h"

namespace layerscope::client::report {
namespace {

struct Metric {
  const char* key;
  const char* label;
  bool logarithmic;
  bool higher_is_worse;
  std::function<std::optional<double>(const v1::Metrics&)> value;
};

const std::vector<Metric>& Metrics() {
  static const std::vector<Metric> metrics = {
      {"mse", "MSE", true, true, [](const v1::Metrics& m) { return std::optional<double>(m.mse()); }},
      {"relative_mae", "relative MAE", true, true,
       [](const v1::Metrics& m) { return std::optional<double>(m.relative_mae()); }},
      {"max_abs_diff", "max |d|", true, true,
       [](const v1::Metrics& m) { return std::optional<double>(m.max_abs_diff()); }},
      // Correlations of good modes differ in the 4th to 8th digit; their distance from 1 shows that on a log scale.
      {"decorrelation", "1 - correlation", true, true,
       [](const v1::Metrics& m) {
         return m.has_correlation() ? std::optional<double>(1 - m.correlation()) : std::nullopt;
       }},
      // No SQNR: the mode equals the reference exactly, an infinite SQNR.
      {"sqnr_db", "SQNR (dB)", false, false,
       [](const v1::Metrics& m) {
         return std::optional<double>(m.has_sqnr_db() ? m.sqnr_db() : std::numeric_limits<double>::infinity());
       }},
  };
  return metrics;
}

}  // namespace

HeatmapData MetricHeatmap(const CompareResult& result, const std::string& metric_key, const std::string& point) {
  const auto metric =
      std::find_if(Metrics().begin(), Metrics().end(), [&](const Metric& m) { return metric_key == m.key; });
  if (metric == Metrics().end()) throw std::invalid_argument("no heatmap metric '" + metric_key + "'");
  const v1::CompareSummary& summary = result.summary();
  std::set<int> layer_set;
  for (const v1::MetricsRow& row : result.rows()) {
    if (row.point() == point) layer_set.insert(row.layer());
  }
  const std::vector<int> layers(layer_set.begin(), layer_set.end());

  HeatmapData data;
  data.title = std::string(metric->label) + " vs " + summary.reference_mode() + " at " + point;
  data.value_label = metric->label;
  data.logarithmic = metric->logarithmic;
  data.higher_is_worse = metric->higher_is_worse;
  data.column_labels.assign(summary.modes().begin(), summary.modes().end());
  for (const int layer : layers) data.row_labels.push_back("layer " + std::to_string(layer));
  data.values.assign(layers.size(), std::vector<std::optional<double>>(data.column_labels.size()));
  for (size_t c = 0; c < data.column_labels.size(); ++c) {
    for (const v1::MetricsRow* row : result.Rows(data.column_labels[c], point)) {
      const size_t r = std::lower_bound(layers.begin(), layers.end(), row->layer()) - layers.begin();
      data.values[r][c] = metric->value(row->metrics());
    }
  }
  return data;
}

std::string HeatmapSection(const CompareResult& result) {
  const v1::CompareSummary& summary = result.summary();
  std::vector<std::pair<std::string, std::string>> metric_options, point_options;
  for (const Metric& metric : Metrics()) metric_options.emplace_back(metric.key, metric.label);
  for (const std::string& point : summary.points()) point_options.emplace_back(point, point);
  std::string html = "<p>" + Chooser("heatmap", "metric", metric_options) + Chooser("heatmap", "point", point_options) +
                     "</p><p class=\"note\">Bright is worse on every scale. Hover a cell for its exact value; grey "
                     "cells have none (a correlation of a constant capture is undefined; an SQNR of an exact match is "
                     "infinite).</p>";
  for (const Metric& metric : Metrics()) {
    for (const std::string& point : summary.points()) {
      html += ChoosableFigure("heatmap", {metric.key, point}, HeatmapSvg(MetricHeatmap(result, metric.key, point)));
    }
  }
  return html;
}

}  // namespace layerscope::client::report
