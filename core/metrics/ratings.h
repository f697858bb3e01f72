// The seed's rating words for MSE, correlation and relative MAE (../shared/docs/MODES.md §5).
#pragma once

#include <optional>
#include <string>

namespace layerscope {

// < 1e-5 excellent, < 1e-4 very good, < 1e-3 good, < 1e-2 fair, else poor.
std::string RateMse(double mse);
// > 0.9999 perfect, > 0.999 excellent, > 0.99 good, > 0.95 fair, else poor; "undefined" when empty.
std::string RateCorrelation(std::optional<double> correlation);
// relative MAE as a fraction: < 0.001 excellent, < 0.01 very good, < 0.05 good, < 0.10 fair, else poor.
std::string RateRelativeMae(double relative_mae);

}  // namespace layerscope
