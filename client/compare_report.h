// The text reports of `compare` and `compare-all`, in the seed's layouts (../shared/docs/MODES.md §6) with their
// number formats and ASCII headings. The additions (rating words, SQNR, cosine, element and non-finite counts,
// which mode and point a block is for) sit next to the seed's lines without moving any of them.
#pragma once

#include <string>
#include <vector>

#include "client/compare_result.h"
#include "layerscope/v1/layerscope.pb.h"

namespace layerscope::client {

// `Layer N - Comparison Results` between rulers of 80 '=': reference and mode statistics, difference, error,
// relative metrics, |diff| percentiles, then SQNR, cosine and the counts. The headings name the reference by
// `reference_mode` in upper case ("FP32 Reference Statistics", "Difference (Mode - FP32)").
std::string LayerDetailBlock(const v1::MetricsRow& row, const std::string& reference_mode);

// `SUMMARY - All Layers` (Layer, MSE, RMSE, MAE, Correlation) and `Average across all layers:` for the rows of
// one (mode, point) in layer order.
std::string LayerSummary(const std::vector<const v1::MetricsRow*>& rows);

// The `compare` report: for each mode and capture point, a header naming both, one detail block per layer and
// the layer summary; then the server's time and its stages on one line (as under the all-modes report).
std::string CompareReport(const CompareResult& result);

// The `compare-all` report: per capture point, `SUMMARY TABLE - All Modes vs REF` (Mode, Layer 0 MSE, Layer 0 MAE,
// Last Layer MSE, Last Layer MAE, Avg Corr; "Layer 0" and "Last Layer" are the first and last layers compared,
// named under the title), the rating words of the same values and the mode with the lowest last-layer MSE; then
// `Server time: T s (STAGE T s, ...)`, the summary's server_seconds and stages.
std::string AllModesReport(const CompareResult& result);

}  // namespace layerscope::client
