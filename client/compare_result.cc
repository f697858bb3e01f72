#include "client/compare_result.h"

#include <algorithm>
#include <utility>

namespace layerscope::client {

CompareResult::CompareResult(v1::CompareSummary summary, std::vector<v1::MetricsRow> rows)
    : summary_(std::move(summary)), rows_(std::move(rows)) {}

std::vector<const v1::MetricsRow*> CompareResult::Rows(const std::string& mode, const std::string& point) const {
  std::vector<const v1::MetricsRow*> selected;
  for (const v1::MetricsRow& row : rows_) {
    if (row.mode() == mode && row.point() == point) selected.push_back(&row);
  }
  // Rows stream in as they become final; sorting makes the output independent of that order.
  std::sort(selected.begin(), selected.end(),
            [](const v1::MetricsRow* a, const v1::MetricsRow* b) { return a->layer() < b->layer(); });
  return selected;
}

std::optional<double> CorrelationOf(const v1::Metrics& metrics) {
  return metrics.has_correlation() ? std::optional<double>(metrics.correlation()) : std::nullopt;
}

LayerAverages AverageOverLayers(const std::vector<const v1::MetricsRow*>& rows) {
  LayerAverages avg;
  double correlation_sum = 0;
  for (const v1::MetricsRow* row : rows) {
    const v1::Metrics& m = row->metrics();
    avg.mse += m.mse();
    avg.mae += m.mae();
    avg.relative_mae += m.relative_mae();
    if (const std::optional<double> correlation = CorrelationOf(m)) {
      correlation_sum += *correlation;
      ++avg.correlation_layers;
    }
    ++avg.layers;
  }
  if (avg.layers > 0) {
    avg.mse /= avg.layers;
    avg.mae /= avg.layers;
    avg.relative_mae /= avg.layers;
  }
  if (avg.correlation_layers > 0) avg.correlation = correlation_sum / avg.correlation_layers;
  return avg;
}

}  // namespace layerscope::client
