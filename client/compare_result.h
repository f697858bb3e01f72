// CompareResult: everything one Compare call streamed back (the rows and the closing summary), with the views the
// tables and the JSON report share: the rows of one (mode, point) in layer order and their averages over layers.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "layerscope/v1/layerscope.pb.h"

namespace layerscope::client {

// The seed's layer summary: plain means of the per-layer values.
struct LayerAverages {
  int layers = 0;
  double mse = 0;
  double mae = 0;
  double relative_mae = 0;
  std::optional<double> correlation;  // mean over the layers where it is defined; empty when none is
  int correlation_layers = 0;         // how many layers the correlation mean covers
};

class CompareResult {
 public:
  CompareResult(v1::CompareSummary summary, std::vector<v1::MetricsRow> rows);

  const v1::CompareSummary& summary() const { return summary_; }
  // Every row, in the order the server sent them.
  const std::vector<v1::MetricsRow>& rows() const { return rows_; }

  // The rows of `mode` at `point`, by ascending layer.
  std::vector<const v1::MetricsRow*> Rows(const std::string& mode, const std::string& point) const;

 private:
  v1::CompareSummary summary_;
  std::vector<v1::MetricsRow> rows_;
};

// The row's correlation, empty when the server left it undefined (a constant side).
std::optional<double> CorrelationOf(const v1::Metrics& metrics);

LayerAverages AverageOverLayers(const std::vector<const v1::MetricsRow*>& rows);

}  // namespace layerscope::client
