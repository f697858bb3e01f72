// HeatmapSection: layers x modes heatmaps of a comparison, one per (metric, capture point), with two choosers
// (metric, point) that show one heatmap at a time. The metrics are those whose layer-by-layer pattern tells where a
// mode goes wrong: MSE, relative MAE, max |d| and 1 - correlation on logarithmic scales, SQNR on a linear one.
#pragma once

#include <string>

#include "client/compare_result.h"
#include "client/report/svg_heatmap.h"

namespace layerscope::client::report {

std::string HeatmapSection(const CompareResult& result);

// The heatmap of `metric` ("mse", "relative_mae", "max_abs_diff", "decorrelation", "sqnr_db") at `point`: rows
// the comparison's layers ascending, columns its modes in order. Throws std::invalid_argument for another metric.
HeatmapData MetricHeatmap(const CompareResult& result, const std::string& metric, const std::string& point);

}  // namespace layerscope::client::report
