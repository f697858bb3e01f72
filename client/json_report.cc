#include "client/json_report.h"

#include <cmath>
#include <optional>
#include <vector>

#include "core/metrics/ratings.h"

namespace layerscope::client {
namespace {

using Json = nlohmann::ordered_json;

// Builds one JSON object whose numbers may be missing: Number() writes a finite value as is and anything else as
// null, recording the reason under `null_reasons` (added last by Finish()).
class NullableObject {
 public:
  NullableObject& Put(const char* key, Json value) {
    object_[key] = std::move(value);
    return *this;
  }
  NullableObject& Number(const char* key, double value) {
    if (std::isfinite(value)) return Put(key, value);
    return Null(key, std::isnan(value) ? "nan" : value > 0 ? "+inf" : "-inf");
  }
  // `value` when present, else null because of `absent_reason`.
  NullableObject& Optional(const char* key, const std::optional<double>& value, const char* absent_reason) {
    return value ? Number(key, *value) : Null(key, absent_reason);
  }
  Json Finish() {
    object_["null_reasons"] = std::move(reasons_);
    return std::move(object_);
  }

 private:
  NullableObject& Null(const char* key, const char* reason) {
    object_[key] = nullptr;
    reasons_[key] = reason;
    return *this;
  }

  Json object_ = Json::object();
  Json reasons_ = Json::object();
};

std::optional<double> Present(bool has, double value) { return has ? std::optional<double>(value) : std::nullopt; }

Json Strings(const google::protobuf::RepeatedPtrField<std::string>& values) {
  return Json(std::vector<std::string>(values.begin(), values.end()));
}

Json MetricsJson(const v1::Metrics& m) {
  NullableObject o;
  o.Put("count", m.count()).Put("nonfinite_ref", m.nonfinite_ref()).Put("nonfinite_mode", m.nonfinite_mode());
  o.Number("ref_mean", m.ref_mean()).Number("ref_std", m.ref_std());
  o.Number("ref_min", m.ref_min()).Number("ref_max", m.ref_max());
  o.Number("mode_mean", m.mode_mean()).Number("mode_std", m.mode_std());
  o.Number("mode_min", m.mode_min()).Number("mode_max", m.mode_max());
  o.Number("diff_mean", m.diff_mean()).Number("diff_std", m.diff_std());
  o.Number("mean_abs_diff", m.mean_abs_diff()).Number("max_abs_diff", m.max_abs_diff());
  o.Number("mse", m.mse()).Number("rmse", m.rmse()).Number("mae", m.mae());
  o.Number("relative_mse", m.relative_mse()).Number("relative_mae", m.relative_mae());
  o.Optional("correlation", CorrelationOf(m), "constant input");
  o.Optional("cosine", Present(m.has_cosine(), m.cosine()), "zero input");
  o.Optional("sqnr_db", Present(m.has_sqnr_db(), m.sqnr_db()), "identical");
  o.Number("p50", m.p50()).Number("p90", m.p90()).Number("p95", m.p95()).Number("p99", m.p99());
  o.Put("percentiles_exact", m.percentiles_exact());
  o.Number("percentile_relative_error", m.percentile_relative_error());
  return o.Finish();
}

Json RatingsJson(double mse, const std::optional<double>& correlation, double relative_mae) {
  return Json{{"mse", RateMse(mse)},
              {"correlation", RateCorrelation(correlation)},
              {"relative_mae", RateRelativeMae(relative_mae)}};
}

}  // namespace

Json SummaryJson(const v1::CompareSummary& s) {
  NullableObject o;
  o.Put("model", s.model()).Put("reference_mode", s.reference_mode()).Put("modes", Strings(s.modes()));
  o.Put("layers", std::vector<int>(s.layers().begin(), s.layers().end())).Put("points", Strings(s.points()));
  o.Put("samples", s.samples()).Put("seq_len", s.seq_len()).Put("batch_size", s.batch_size());
  o.Put("device", s.device()).Number("server_seconds", s.server_seconds()).Put("rows", s.rows());
  Json stages = Json::array();
  for (const v1::StageTime& t : s.stages()) stages.push_back(Json{{"stage", t.stage()}, {"seconds", t.seconds()}});
  o.Put("stages", std::move(stages));
  return o.Finish();
}

Json CompareJson(const std::string& command, const CompareResult& result) {
  const v1::CompareSummary& summary = result.summary();
  Json rows = Json::array();
  Json layer_summaries = Json::array();
  for (const std::string& mode : summary.modes()) {
    for (const std::string& point : summary.points()) {
      const std::vector<const v1::MetricsRow*> selected = result.Rows(mode, point);
      std::vector<int> layers;
      for (const v1::MetricsRow* row : selected) {
        const v1::Metrics& m = row->metrics();
        rows.push_back(Json{
            {"mode", row->mode()},
            {"layer", row->layer()},
            {"point", row->point()},
            {"metrics", MetricsJson(m)},
            {"ratings", RatingsJson(m.mse(), CorrelationOf(m), m.relative_mae())},
        });
        layers.push_back(row->layer());
      }
      const LayerAverages avg = AverageOverLayers(selected);
      NullableObject o;
      o.Put("mode", mode).Put("point", point).Put("layers", layers);
      o.Number("avg_mse", avg.mse).Number("avg_mae", avg.mae).Number("avg_relative_mae", avg.relative_mae);
      o.Optional("avg_correlation", avg.correlation, "constant input");
      o.Put("correlation_layers", avg.correlation_layers);
      o.Put("ratings", RatingsJson(avg.mse, avg.correlation, avg.relative_mae));
      layer_summaries.push_back(o.Finish());
    }
  }
  return Json{
      {"schema_version", kJsonSchemaVersion},
      {"command", command},
      {"summary", SummaryJson(summary)},
      {"rows", std::move(rows)},
      {"layer_summaries", std::move(layer_summaries)},
  };
}

Json ModesJson(const v1::ListModesResponse& modes) {
  Json list = Json::array();
  for (const v1::ModeInfo& mode : modes.modes()) {
    list.push_back(Json{
        {"name", mode.name()},
        {"description", mode.description()},
        {"quantized", mode.quantized()},
        {"quantized_stages", Strings(mode.quantized_stages())},
        {"precision", mode.precision()},
    });
  }
  return Json{{"schema_version", kJsonSchemaVersion},
              {"command", "modes"},
              {"modes", std::move(list)},
              {"spec_syntax", modes.spec_syntax()}};
}

Json ModelsJson(const v1::ListModelsResponse& models) {
  Json list = Json::array();
  for (const v1::ModelInfo& m : models.models()) {
    list.push_back(Json{
        {"name", m.name()},
        {"is_default", m.is_default()},
        {"layout", m.layout()},
        {"weights", m.weights()},
        {"device", m.device()},
        {"d_model", m.d_model()},
        {"n_layer", m.n_layer()},
        {"vocab_size", m.vocab_size()},
        {"d_inner", m.d_inner()},
        {"d_state", m.d_state()},
        {"d_conv", m.d_conv()},
        {"dt_rank", m.dt_rank()},
        {"parameters", m.parameters()},
        {"float_available", m.float_available()},
        {"quantized_available", m.quantized_available()},
        {"quantization", m.quantization()},
    });
  }
  return Json{{"schema_version", kJsonSchemaVersion}, {"command", "models"}, {"models", std::move(list)}};
}

Json PointsJson(const v1::ListCapturePointsResponse& points) {
  Json list = Json::array();
  for (const v1::CapturePointInfo& point : points.points()) {
    list.push_back(Json{
        {"name", point.name()},
        {"description", point.description()},
        {"is_default", point.is_default()},
    });
  }
  return Json{{"schema_version", kJsonSchemaVersion}, {"command", "points"}, {"points", std::move(list)}};
}

}  // namespace layerscope::client
