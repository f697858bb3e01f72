#include "client/json_report.h"

#include <gtest/gtest.h>

#include <limits>
#include <string>

namespace layerscope::client {
namespace {

using Json = nlohmann::ordered_json;

v1::MetricsRow Row(const std::string& mode, int layer, double mse, std::optional<double> correlation) {
  v1::MetricsRow row;
  row.set_mode(mode);
  row.set_layer(layer);
  row.set_point("mixer_output");
  v1::Metrics* m = row.mutable_metrics();
  m->set_count(100);
  m->set_mse(mse);
  m->set_mae(0.01);
  m->set_relative_mae(0.002);
  if (correlation) m->set_correlation(*correlation);
  m->set_cosine(0.5);
  m->set_sqnr_db(40);
  m->set_percentiles_exact(true);
  return row;
}

CompareResult Result(std::vector<v1::MetricsRow> rows) {
  v1::CompareSummary summary;
  summary.set_model("embedded");
  summary.set_reference_mode("fp32");
  summary.add_modes("fp16");
  summary.add_points("mixer_output");
  summary.add_layers(0);
  summary.add_layers(5);
  summary.set_samples(2);
  summary.set_seq_len(64);
  summary.set_batch_size(2);
  summary.set_device("cpu");
  summary.set_server_seconds(0.25);
  summary.set_rows(static_cast<int64_t>(rows.size()));
  v1::StageTime* forward = summary.add_stages();
  forward->set_stage("forward fp32");
  forward->set_seconds(0.125);
  return CompareResult(summary, std::move(rows));
}

TEST(CompareJsonTest, DocumentLayout) {
  const Json json = CompareJson("compare", Result({Row("fp16", 5, 2e-4, 0.9995), Row("fp16", 0, 4e-6, 0.999998)}));
  EXPECT_EQ(json["schema_version"], kJsonSchemaVersion);
  EXPECT_EQ(json["command"], "compare");
  EXPECT_EQ(json["summary"]["model"], "embedded");
  EXPECT_EQ(json["summary"]["layers"], Json::array({0, 5}));
  EXPECT_EQ(json["summary"]["server_seconds"], 0.25);
  EXPECT_EQ(json["summary"]["stages"], Json::array({Json{{"stage", "forward fp32"}, {"seconds", 0.125}}}));
  EXPECT_EQ(json["summary"]["null_reasons"], Json::object());
  ASSERT_EQ(json["rows"].size(), 2u);
  EXPECT_EQ(json["rows"][0]["layer"], 0);  // by layer, whatever the arrival order
  EXPECT_EQ(json["rows"][0]["metrics"]["mse"], 4e-6);
  EXPECT_EQ(json["rows"][0]["metrics"]["correlation"], 0.999998);
  EXPECT_EQ(json["rows"][0]["ratings"],
            (Json{{"mse", "excellent"}, {"correlation", "perfect"}, {"relative_mae", "very good"}}));
  ASSERT_EQ(json["layer_summaries"].size(), 1u);
  const Json& summary = json["layer_summaries"][0];
  EXPECT_EQ(summary["layers"], Json::array({0, 5}));
  EXPECT_DOUBLE_EQ(summary["avg_mse"].get<double>(), 1.02e-4);
  EXPECT_DOUBLE_EQ(summary["avg_correlation"].get<double>(), (0.9995 + 0.999998) / 2);
  EXPECT_EQ(summary["correlation_layers"], 2);
  EXPECT_EQ(summary["ratings"]["mse"], "good");
}

TEST(CompareJsonTest, NonFiniteAndAbsentValuesAreNullWithAReason) {
  v1::MetricsRow row = Row("fp16", 0, std::numeric_limits<double>::quiet_NaN(), std::nullopt);
  row.mutable_metrics()->clear_cosine();
  row.mutable_metrics()->clear_sqnr_db();
  row.mutable_metrics()->set_max_abs_diff(std::numeric_limits<double>::infinity());
  row.mutable_metrics()->set_diff_mean(-std::numeric_limits<double>::infinity());
  const Json json = CompareJson("compare", Result({row}));
  const Json& metrics = json["rows"][0]["metrics"];
  for (const char* key : {"mse", "correlation", "cosine", "sqnr_db", "max_abs_diff", "diff_mean"}) {
    EXPECT_TRUE(metrics[key].is_null()) << key;
  }
  EXPECT_EQ(metrics["null_reasons"], (Json{{"diff_mean", "-inf"},
                                           {"max_abs_diff", "+inf"},
                                           {"mse", "nan"},
                                           {"correlation", "constant input"},
                                           {"cosine", "zero input"},
                                           {"sqnr_db", "identical"}}));
  const Json& summary = json["layer_summaries"][0];
  EXPECT_TRUE(summary["avg_correlation"].is_null());
  EXPECT_EQ(summary["null_reasons"]["avg_correlation"], "constant input");
  EXPECT_EQ(summary["null_reasons"]["avg_mse"], "nan");
  EXPECT_EQ(summary["correlation_layers"], 0);

  // The text is valid JSON: it parses back to the same document.
  const std::string text = json.dump(2);
  EXPECT_EQ(text.find("NaN"), std::string::npos);
  EXPECT_EQ(Json::parse(text), json);
}

TEST(ListingJsonTest, ModesModelsPoints) {
  v1::ListModesResponse modes;
  v1::ModeInfo* mode = modes.add_modes();
  mode->set_name("2-1");
  mode->set_quantized(true);
  mode->add_quantized_stages("in_proj");
  modes.set_spec_syntax("ssm: kernel|framework\n");
  const Json modes_json = ModesJson(modes);
  EXPECT_EQ(modes_json["command"], "modes");
  EXPECT_EQ(modes_json["modes"][0]["name"], "2-1");
  EXPECT_EQ(modes_json["modes"][0]["quantized_stages"], Json::array({"in_proj"}));
  EXPECT_EQ(modes_json["spec_syntax"], "ssm: kernel|framework\n");

  v1::ListModelsResponse models;
  models.add_models()->set_n_layer(6);
  EXPECT_EQ(ModelsJson(models)["models"][0]["n_layer"], 6);

  v1::ListCapturePointsResponse points;
  points.add_points()->set_is_default(true);
  EXPECT_EQ(PointsJson(points)["points"][0]["is_default"], true);
}

}  // namespace
}  // namespace layerscope::client
