// Metrics: the comparison of one capture (reference r against mode m, d = m - r over every element) with the
// seed's definitions (../shared/docs/MODES.md §5), plus SQNR and cosine similarity.
#pragma once

#include <cstdint>
#include <optional>

namespace layerscope {

struct Metrics {
  int64_t count = 0;           // finite (r, m) pairs the metrics are computed over
  int64_t nonfinite_ref = 0;   // elements where r was NaN or Inf (excluded from every metric)
  int64_t nonfinite_mode = 0;  // elements where m was NaN or Inf and r was finite (excluded from every metric)

  double ref_mean = 0, ref_std = 0, ref_min = 0, ref_max = 0;  // std: population
  double mode_mean = 0, mode_std = 0, mode_min = 0, mode_max = 0;
  double diff_mean = 0, diff_std = 0;
  double mean_abs_diff = 0, max_abs_diff = 0;
  double mse = 0, rmse = 0, mae = 0;
  double relative_mse = 0;            // MSE / (mean r^2 + 1e-8)
  double relative_mae = 0;            // MAE / (mean |r| + 1e-8)
  std::optional<double> correlation;  // Pearson; empty when either side is constant (undefined)
  std::optional<double> cosine;       // empty when either side is all zeros
  std::optional<double> sqnr_db;      // 10 log10(sum r^2 / sum d^2); empty when d is all zeros (infinite);
                                      // -inf when r is all zeros and d is not
  // |d| percentiles with numpy's default linear interpolation between order statistics, over |d| rounded to
  // float32 (see metric_accumulator.h).
  double p50 = 0, p90 = 0, p95 = 0, p99 = 0;
  bool percentiles_exact = true;
  double percentile_relative_error = 0;  // bound on |estimate - exact| / exact when not exact
};

}  // namespace layerscope
