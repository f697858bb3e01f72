#include "core/metrics/ratings.h"

namespace layerscope {

std::string RateMse(double mse) {
  if (mse < 1e-5) return "excellent";
  if (mse < 1e-4) return "very good";
  if (mse < 1e-3) return "good";
  if (mse < 1e-2) return "fair";
  return "poor";
}

std::string RateCorrelation(std::optional<double> correlation) {
  if (!correlation) return "undefined";
  if (*correlation > 0.9999) return "perfect";
  if (*correlation > 0.999) return "excellent";
  if (*correlation > 0.99) return "good";
  if (*correlation > 0.95) return "fair";
  return "poor";
}

std::string RateRelativeMae(double relative_mae) {
  if (relative_mae < 0.001) return "excellent";
  if (relative_mae < 0.01) return "very good";
  if (relative_mae < 0.05) return "good";
  if (relative_mae < 0.10) return "fair";
  return "poor";
}

}  // namespace layerscope
