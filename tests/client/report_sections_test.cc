// The HTML report's sections on results built by hand: which value lands in which cell, and the rating classes.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "client/compare_result.h"
#include "client/report/channel_section.h"
#include "client/report/distribution_section.h"
#include "client/report/heatmap_section.h"
#include "client/report/html_report.h"
#include "client/report/model_effect_section.h"
#include "client/report/summary_section.h"

namespace layerscope::client::report {
namespace {

v1::MetricsRow Row(const std::string& mode, int layer, double mse, std::optional<double> correlation) {
  v1::MetricsRow row;
  row.set_mode(mode);
  row.set_layer(layer);
  row.set_point("mixer_output");
  row.mutable_metrics()->set_mse(mse);
  row.mutable_metrics()->set_mae(std::sqrt(mse));
  row.mutable_metrics()->set_relative_mae(mse * 10);
  if (correlation) row.mutable_metrics()->set_correlation(*correlation);
  return row;
}

// fp16 and a mode named with markup, on layers 0 and 3, rows sent out of layer order.
CompareResult TwoModes() {
  v1::CompareSummary summary;
  summary.set_model("embedded");
  summary.set_reference_mode("fp32");
  summary.add_modes("fp16");
  summary.add_modes("<i>q</i>");
  summary.add_layers(0);
  summary.add_layers(3);
  summary.add_points("mixer_output");
  summary.set_samples(2);
  summary.set_seq_len(64);
  return CompareResult(summary, {Row("fp16", 3, 4e-6, 0.99997), Row("fp16", 0, 1e-6, 0.99999),
                                 Row("<i>q</i>", 0, 2e-3, std::nullopt), Row("<i>q</i>", 3, 5e-2, 0.9)});
}

TEST(SummarySectionTest, AllModesTableHasTheFirstAndLastLayersAndRatings) {
  const std::string html = SummarySection(TwoModes());
  // fp16: layer 0 MSE 1e-6 (excellent), last layer 4e-6 (excellent), MAE sqrt(MSE), average correlation
  // (0.99999 + 0.99997) / 2 = 0.99998 (perfect), last-layer relative MAE 4e-5 = 0.004% (excellent).
  EXPECT_NE(html.find("<tr><td>fp16</td><td class=\"excellent\">1.000000e-06</td><td>0.001000</td>"
                      "<td class=\"excellent\">4.000000e-06</td><td>0.002000</td>"
                      "<td class=\"perfect\">0.999980</td><td class=\"excellent\">0.004%</td></tr>"),
            std::string::npos)
      << html;
  // The other mode: its correlation is undefined on layer 0, so the average is layer 3's alone (0.9, poor); last
  // layer MSE 5e-2 is poor, relative MAE 50% poor. Its name is escaped.
  EXPECT_NE(html.find("<tr><td>&lt;i&gt;q&lt;/i&gt;</td><td class=\"fair\">2.000000e-03</td>"), std::string::npos);
  EXPECT_NE(html.find("<td class=\"poor\">0.900000</td><td class=\"poor\">50.000%</td></tr>"), std::string::npos);
  EXPECT_EQ(html.find("<i>"), std::string::npos);
  EXPECT_NE(html.find("<td>data</td><td>2 samples of 64 tokens</td>"), std::string::npos);
}

TEST(SummarySectionTest, RatingClassesAreCssNames) { EXPECT_EQ(RatingClass("very good"), "very-good"); }

TEST(HeatmapSectionTest, RowsAreLayersAndColumnsModes) {
  const HeatmapData mse = MetricHeatmap(TwoModes(), "mse", "mixer_output");
  EXPECT_EQ(mse.row_labels, (std::vector<std::string>{"layer 0", "layer 3"}));
  EXPECT_EQ(mse.column_labels, (std::vector<std::string>{"fp16", "<i>q</i>"}));
  EXPECT_EQ(mse.values[0][0], 1e-6);
  EXPECT_EQ(mse.values[1][0], 4e-6);
  EXPECT_EQ(mse.values[0][1], 2e-3);
  EXPECT_EQ(mse.values[1][1], 5e-2);
  EXPECT_TRUE(mse.logarithmic);

  const HeatmapData decorrelation = MetricHeatmap(TwoModes(), "decorrelation", "mixer_output");
  EXPECT_NEAR(*decorrelation.values[0][0], 1e-5, 1e-15);  // 1 - 0.99999
  EXPECT_FALSE(decorrelation.values[0][1].has_value());   // undefined correlation: no cell value
  EXPECT_NEAR(*decorrelation.values[1][1], 0.1, 1e-15);

  // No SQNR from the server means an exact match: infinite.
  EXPECT_TRUE(std::isinf(*MetricHeatmap(TwoModes(), "sqnr_db", "mixer_output").values[0][0]));
  EXPECT_THROW(MetricHeatmap(TwoModes(), "nope", "mixer_output"), std::invalid_argument);
}

v1::ErrorBreakdown Breakdown() {
  v1::ErrorBreakdown b;
  b.set_mode("2-1");
  b.set_layer(5);
  b.set_point("ssm_output");
  b.set_channels(3);
  b.set_mse(2e-4);
  b.set_max_abs(0.5);
  b.set_count(12);
  for (const double mse : {1e-4, 0.0, 5e-4}) {
    b.mutable_per_channel()->add_mse(mse);
    b.mutable_per_channel()->add_max_abs(mse * 100);
  }
  v1::ChannelOutlier* top = b.add_top_channels();
  top->set_channel(2);
  top->set_mse(5e-4);
  top->set_max_abs(0.05);
  top->set_ref_rms(1.5);
  v1::AbsDiffHistogram* h = b.mutable_histogram();
  for (const double edge : {1e-3, 1e-2, 1e-1}) h->add_edges(edge);
  h->add_counts(7);
  h->add_counts(3);
  h->set_zeros(2);
  h->set_total(12);
  v1::Percentile* p = h->add_percentiles();
  p->set_q(99.9);
  p->set_value(0.09);
  return b;
}

TEST(DistributionSectionTest, HistogramIsTheServersBinsAndPercentiles) {
  const HistogramData data = AbsDiffHistogramOf(Breakdown());
  EXPECT_EQ(data.edges, (std::vector<double>{1e-3, 1e-2, 1e-1}));
  EXPECT_EQ(data.counts, (std::vector<double>{7, 3}));
  EXPECT_TRUE(data.logarithmic_x);
  ASSERT_EQ(data.markers.size(), 1u);
  EXPECT_EQ(data.markers[0].label, "P99.9");
  EXPECT_EQ(data.markers[0].value, 0.09);

  v1::BreakdownResponse response;
  *response.add_breakdowns() = Breakdown();
  const std::string html = DistributionSection(response);
  EXPECT_NE(html.find("data-key=\"2-1|5|ssm_output\""), std::string::npos);
  EXPECT_NE(html.find("12 finite pairs, 2 of them with |d| = 0 exactly"), std::string::npos) << html;
  EXPECT_NE(html.find("P99.9 = 0.09."), std::string::npos);
}

TEST(ChannelSectionTest, ChannelsAreTheXAxisAndOutliersAreListed) {
  const LineChartData chart = ChannelErrorChart(Breakdown());
  ASSERT_EQ(chart.series.size(), 2u);
  EXPECT_EQ(chart.series[0].x, (std::vector<double>{0, 1, 2}));
  EXPECT_EQ(chart.series[0].y, (std::vector<double>{1e-4, 0, 5e-4}));
  EXPECT_TRUE(chart.logarithmic_y);

  v1::BreakdownResponse response;
  *response.add_breakdowns() = Breakdown();
  // Channel 2's MSE is 5e-4 / 2e-4 = 2.5 times the capture's.
  EXPECT_NE(ChannelSection(response).find("<tr><td>2</td><td>5.000000e-04</td><td>0.05</td><td>1.5</td>"
                                          "<td>2.5</td></tr>"),
            std::string::npos);
}

TEST(ModelEffectSectionTest, EachModeNextToItsLastLayerError) {
  v1::ModelEffectResponse effect;
  effect.mutable_summary()->set_reference_mode("fp32");
  effect.mutable_summary()->set_samples(2);
  effect.mutable_summary()->set_seq_len(64);
  effect.set_reference_perplexity(3.25);
  effect.set_reference_positions(126);
  v1::ModeEffect* fp16 = effect.add_effects();
  fp16->set_mode("fp16");
  fp16->set_kl_mean(1e-7);
  fp16->set_kl_max(2e-6);
  fp16->set_top1_agreement(0.5);
  fp16->set_perplexity(3.5);
  fp16->set_positions(126);
  const std::string html = ModelEffectSection(effect, TwoModes());
  EXPECT_NE(html.find("<tr><td>fp32 (reference)</td><td>0</td><td>0</td><td>100.00%</td><td>3.2500</td>"),
            std::string::npos)
      << html;
  // fp16's last compared layer (3) at the last point has MSE 4e-6; perplexity 3.5 is 0.25 above the reference's.
  EXPECT_NE(html.find("<tr><td>fp16</td><td>1.000000e-07</td><td>2.000000e-06</td><td>50.00%</td><td>3.5000</td>"
                      "<td>+0.2500</td><td>4.000000e-06</td><td>126</td></tr>"),
            std::string::npos);
  EXPECT_NE(html.find("<th>Last layer MSE at mixer_output</th>"), std::string::npos);
}

TEST(HtmlReportTest, MissingAnalysesAreSaidNotFaked) {
  ReportData data(TwoModes());
  data.breakdowns.unavailable = "breakdown: not implemented by this server";
  data.model_effect.unavailable = "effect: not implemented by this server";
  const std::string html = HtmlReport(data);
  EXPECT_NE(html.find("<p class=\"unavailable\">Not available from this server: breakdown: not implemented by this "
                      "server</p>"),
            std::string::npos);
  EXPECT_NE(html.find("Not available from this server: effect: not implemented by this server"), std::string::npos);
  EXPECT_EQ(html.find("class=\"chart histogram\""), std::string::npos);
  EXPECT_NE(html.find("class=\"chart heatmap\""), std::string::npos);
}

}  // namespace
}  // namespace layerscope::client::report
