#include "proto/metrics_proto.h"

namespace layerscope {

void ToProto(const Metrics& metrics, v1::Metrics* out) {
  out->set_count(metrics.count);
  out->set_nonfinite_ref(metrics.nonfinite_ref);
  out->set_nonfinite_mode(metrics.nonfinite_mode);
  out->set_ref_mean(metrics.ref_mean);
  out->set_ref_std(metrics.ref_std);
  out->set_ref_min(metrics.ref_min);
  out->set_ref_max(metrics.ref_max);
  out->set_mode_mean(metrics.mode_mean);
  out->set_mode_std(metrics.mode_std);
  out->set_mode_min(metrics.mode_min);
  out->set_mode_max(metrics.mode_max);
  out->set_diff_mean(metrics.diff_mean);
  out->set_diff_std(metrics.diff_std);
  out->set_mean_abs_diff(metrics.mean_abs_diff);
  out->set_max_abs_diff(metrics.max_abs_diff);
  out->set_mse(metrics.mse);
  out->set_rmse(metrics.rmse);
  out->set_mae(metrics.mae);
  out->set_relative_mse(metrics.relative_mse);
  out->set_relative_mae(metrics.relative_mae);
  if (metrics.correlation) out->set_correlation(*metrics.correlation);
  if (metrics.cosine) out->set_cosine(*metrics.cosine);
  if (metrics.sqnr_db) out->set_sqnr_db(*metrics.sqnr_db);
  out->set_p50(metrics.p50);
  out->set_p90(metrics.p90);
  out->set_p95(metrics.p95);
  out->set_p99(metrics.p99);
  out->set_percentiles_exact(metrics.percentiles_exact);
  out->set_percentile_relative_error(metrics.percentile_relative_error);
}

}  // namespace layerscope
