// SummarySection: the report's tables of a comparison, the HTML counterparts of the text reports: what ran, then
// per capture point the all-modes summary (`SUMMARY TABLE - All Modes vs REF`: layer 0 and last layer MSE and MAE,
// average correlation, with the seed's rating words as cell colours), then per (mode, point) the layer summary
// (`SUMMARY - All Layers`) folded away under a <details>. The server's time is left out, so that the same
// comparison gives the same page byte for byte.
#pragma once

#include <string>

#include "client/compare_result.h"

namespace layerscope::client::report {

std::string SummarySection(const CompareResult& result);

// The CSS class of a rating word: "very good" -> "very-good".
std::string RatingClass(const std::string& rating);

}  // namespace layerscope::client::report
