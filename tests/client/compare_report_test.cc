#include "client/compare_report.h"

#include <gtest/gtest.h>

#include <limits>
#include <string>
#include <utility>
#include <vector>

namespace layerscope::client {
namespace {

const std::string kRule(80, '=');
const std::string kDash(80, '-');
const std::string kWideRule(100, '=');
const std::string kWideDash(100, '-');

v1::MetricsRow TypicalRow(const std::string& mode, int layer, const std::string& point) {
  v1::MetricsRow row;
  row.set_mode(mode);
  row.set_layer(layer);
  row.set_point(point);
  v1::Metrics* m = row.mutable_metrics();
  m->set_count(12288);
  m->set_ref_mean(0.1);
  m->set_ref_std(1.5);
  m->set_ref_min(-4.25);
  m->set_ref_max(5.5);
  m->set_mode_mean(0.1001);
  m->set_mode_std(1.5002);
  m->set_mode_min(-4.2501);
  m->set_mode_max(5.5002);
  m->set_diff_mean(0.0001);
  m->set_diff_std(0.002);
  m->set_mean_abs_diff(0.0015);
  m->set_max_abs_diff(0.0123);
  m->set_mse(4e-6);
  m->set_rmse(0.002);
  m->set_mae(0.0015);
  m->set_relative_mse(1.7777e-6);
  m->set_relative_mae(0.0012);
  m->set_correlation(0.999998);
  m->set_cosine(0.999999);
  m->set_sqnr_db(57.5);
  m->set_p50(0.001);
  m->set_p90(0.003);
  m->set_p95(0.004);
  m->set_p99(0.007);
  m->set_percentiles_exact(true);
  return row;
}

TEST(LayerDetailBlockTest, SeedLayoutWithRatings) {
  const std::string expected = "\n" + kRule + "\n" + "Layer 5 - Comparison Results\n" + kRule + "\n" +
                               "\n"
                               "FP32 Reference Statistics:\n"
                               "  Mean:      0.100000\n"
                               "  Std:       1.500000\n"
                               "  Range: [ -4.250000,   5.500000]\n"
                               "\n"
                               "Mode Output Statistics:\n"
                               "  Mean:      0.100100\n"
                               "  Std:       1.500200\n"
                               "  Range: [ -4.250100,   5.500200]\n"
                               "\n"
                               "Difference (Mode - FP32):\n"
                               "  Mean Diff:         0.000100\n"
                               "  Std Diff:          0.002000\n"
                               "  Mean Abs Diff:     0.001500\n"
                               "  Max Abs Diff:      0.012300\n"
                               "\n"
                               "Error Metrics:\n"
                               "  MSE:           4.000000e-06  [excellent]\n"
                               "  RMSE:              0.002000\n"
                               "  MAE:               0.001500\n"
                               "\n"
                               "Relative Metrics:\n"
                               "  Relative MSE:  1.777700e-06 ( 0.000%)\n"
                               "  Relative MAE:  1.200000e-03 ( 0.120%)  [very good]\n"
                               "  Correlation:       0.999998  [perfect]\n"
                               "\n"
                               "Absolute Difference Percentiles:\n"
                               "  50th (Median):     0.001000\n"
                               "  90th:              0.003000\n"
                               "  95th:              0.004000\n"
                               "  99th:              0.007000\n"
                               "\n"
                               "Additional Metrics:\n"
                               "  SQNR:             57.500000 dB\n"
                               "  Cosine:            0.999999\n"
                               "  Elements:             12288\n" +
                               kRule + "\n";
  EXPECT_EQ(LayerDetailBlock(TypicalRow("fp16", 5, "mixer_output"), "fp32"), expected);
}

TEST(LayerDetailBlockTest, UndefinedValuesAreSaidNotPrintedAsNan) {
  v1::MetricsRow row = TypicalRow("fp16", 0, "conv1d_input");
  v1::Metrics* m = row.mutable_metrics();
  m->clear_correlation();
  m->clear_cosine();
  m->clear_sqnr_db();
  m->set_nonfinite_ref(3);
  m->set_nonfinite_mode(7);
  m->set_percentiles_exact(false);
  m->set_percentile_relative_error(0.001);
  const std::string block = LayerDetailBlock(row, "fp16");
  EXPECT_NE(block.find("FP16 Reference Statistics:\n"), std::string::npos);
  EXPECT_NE(block.find("Difference (Mode - FP16):\n"), std::string::npos);
  EXPECT_NE(block.find("  Correlation:   undefined (constant input)\n"), std::string::npos);
  EXPECT_NE(block.find("  SQNR:          infinite (identical)\n"), std::string::npos);
  EXPECT_NE(block.find("  Cosine:        undefined (zero input)\n"), std::string::npos);
  EXPECT_NE(block.find("  NaN/Inf ref:              3\n  NaN/Inf mode:             7\n"), std::string::npos);
  EXPECT_NE(block.find("Absolute Difference Percentiles (estimated, relative error <= 1.0e-03):\n"), std::string::npos);
  EXPECT_EQ(block.find("nan"), std::string::npos);
}

TEST(LayerDetailBlockTest, NonFiniteCountsOnlyWhenNonZero) {
  EXPECT_EQ(LayerDetailBlock(TypicalRow("fp16", 0, "p"), "fp32").find("NaN/Inf"), std::string::npos);
}

TEST(LayerSummaryTest, TableAndAverages) {
  v1::MetricsRow first = TypicalRow("fp16", 0, "p");
  v1::MetricsRow last = TypicalRow("fp16", 5, "p");
  last.mutable_metrics()->set_mse(2e-4);
  last.mutable_metrics()->set_rmse(0.0141421);
  last.mutable_metrics()->set_mae(0.0025);
  last.mutable_metrics()->set_relative_mae(0.0022);
  last.mutable_metrics()->set_correlation(0.9995);
  const std::string expected = "\n\n" + kRule + "\nSUMMARY - All Layers\n" + kRule + "\n" +
                               "\n"
                               "Layer      MSE             RMSE         MAE          Correlation\n" +
                               kDash + "\n" +
                               "0          4.000000e-06    0.002000     0.001500     0.999998\n"
                               "5          2.000000e-04    0.014142     0.002500     0.999500\n" +
                               kRule + "\n" +
                               "\n"
                               "Average across all layers:\n"
                               "  MSE:         1.020000e-04  [good]\n"
                               "  MAE:         0.002000\n"
                               "  Correlation: 0.999749  [excellent]\n"
                               "  Rel. MAE:    1.700000e-03 (0.170%)  [very good]\n";
  EXPECT_EQ(LayerSummary({&first, &last}), expected);
}

TEST(LayerSummaryTest, CorrelationAveragedOverTheLayersThatDefineIt) {
  v1::MetricsRow defined = TypicalRow("fp16", 0, "p");
  v1::MetricsRow constant = TypicalRow("fp16", 1, "p");
  constant.mutable_metrics()->clear_correlation();
  const std::string summary = LayerSummary({&defined, &constant});
  EXPECT_NE(summary.find("1          4.000000e-06    0.002000     0.001500     undefined\n"), std::string::npos)
      << summary;
  EXPECT_NE(summary.find("  Correlation: 0.999998  [perfect] (over 1 of 2 layers; undefined in the others)\n"),
            std::string::npos)
      << summary;

  const std::string none = LayerSummary({&constant});
  EXPECT_NE(none.find("  Correlation: undefined (constant input)\n"), std::string::npos) << none;
}

v1::CompareSummary Summary(const std::vector<std::string>& modes, const std::vector<std::string>& points) {
  v1::CompareSummary summary;
  summary.set_model("embedded");
  summary.set_reference_mode("fp32");
  for (const std::string& mode : modes) summary.add_modes(mode);
  for (const std::string& point : points) summary.add_points(point);
  summary.set_samples(2);
  summary.set_seq_len(64);
  summary.set_device("cpu");
  return summary;
}

TEST(CompareReportTest, OneSectionPerModeAndPointWithLayersInOrder) {
  // Rows arrive in any order; the report sorts them by layer.
  const CompareResult result(Summary({"fp16", "bf16"}, {"ssm_output"}),
                             {TypicalRow("bf16", 5, "ssm_output"), TypicalRow("fp16", 5, "ssm_output"),
                              TypicalRow("fp16", 0, "ssm_output"), TypicalRow("bf16", 0, "ssm_output")});
  const std::string report = CompareReport(result);
  const std::string fp16_header = "\n" + kRule + "\nComparing Mode 'fp16' vs Reference 'fp32' at point 'ssm_output'\n" +
                                  "Model: embedded on cpu, 2 samples of 64 tokens\n" + kRule + "\n\nLayers: [0, 5]\n";
  const size_t fp16 = report.find(fp16_header);
  const size_t bf16 = report.find("Comparing Mode 'bf16'");
  ASSERT_NE(fp16, std::string::npos) << report;
  ASSERT_NE(bf16, std::string::npos);
  EXPECT_LT(fp16, bf16);
  const std::string fp16_section = report.substr(fp16, bf16 - fp16);
  const size_t layer0 = fp16_section.find("Layer 0 - Comparison Results");
  const size_t layer5 = fp16_section.find("Layer 5 - Comparison Results");
  const size_t summary = fp16_section.find("SUMMARY - All Layers");
  EXPECT_LT(layer0, layer5);
  EXPECT_LT(layer5, summary);
  EXPECT_NE(summary, std::string::npos);
  // The server's time last; a summary without stages (an older server's) shows the total alone.
  EXPECT_EQ(report.substr(report.rfind(kRule) + kRule.size()), "\n\nServer time: 0.000 s\n");
  // Same result, same bytes.
  EXPECT_EQ(report, CompareReport(result));
}

TEST(AllModesReportTest, SeedTableRatingsAndBestMode) {
  v1::MetricsRow bf16_last = TypicalRow("bf16", 5, "mixer_output");
  bf16_last.mutable_metrics()->set_mse(3e-3);
  bf16_last.mutable_metrics()->set_mae(0.04);
  bf16_last.mutable_metrics()->set_relative_mae(0.06);
  v1::CompareSummary summary = Summary({"fp16", "bf16", "custom"}, {"mixer_output"});
  summary.set_server_seconds(1.5);
  for (const auto& [stage, seconds] : {std::pair<const char*, double>{"forward fp32", 0.25}, {"metrics", 1.0004}}) {
    v1::StageTime* time = summary.add_stages();
    time->set_stage(stage);
    time->set_seconds(seconds);
  }
  const CompareResult result(summary, {TypicalRow("fp16", 0, "mixer_output"), TypicalRow("fp16", 5, "mixer_output"),
                                       TypicalRow("bf16", 0, "mixer_output"), bf16_last});
  const std::string expected =
      "\n" + kWideRule + "\n" + "Comparing all modes vs Reference 'fp32': fp16, bf16, custom\n" +
      "Model: embedded on cpu, 2 samples of 64 tokens\n" + kWideRule + "\n" + "\n" + kWideRule + "\n" +
      "SUMMARY TABLE - All Modes vs fp32\n" + "Point: mixer_output (Layer 0 = layer 0, Last Layer = layer 5)\n" +
      kWideRule + "\n" + "\n" + "Mode       Layer 0 MSE     Layer 0 MAE  Last Layer MSE  Last Layer MAE  Avg Corr\n" +
      kWideDash + "\n" +
      "fp16       4.000000e-06    0.001500     4.000000e-06    0.001500        0.999998\n"
      "bf16       4.000000e-06    0.001500     3.000000e-03    0.040000        0.999998\n"
      "custom     N/A             N/A          N/A             N/A             N/A\n" +
      kWideRule + "\n" + "\nRatings:\n" +
      "Mode       Layer 0 MSE     Last Layer MSE  Avg Corr     Last Layer Rel MAE\n" + kWideDash + "\n" +
      "fp16       excellent       excellent       perfect      very good (0.120%)\n"
      "bf16       excellent       fair            perfect      fair (6.000%)\n"
      "custom     N/A             N/A             N/A          N/A\n" +
      kWideRule + "\n" + "\nBest mode (lowest last layer MSE): fp16 (4.000000e-06)\n" + "\n" +
      "Server time: 1.500 s (forward fp32 0.250 s, metrics 1.000 s)\n";
  EXPECT_EQ(AllModesReport(result), expected);
}

}  // namespace
}  // namespace layerscope::client
