// The HTML report's building blocks: escaping, colours, axes and the SVG charts, against values worked out by hand
// (written next to each expectation).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "client/report/chart_axis.h"
#include "client/report/chooser.h"
#include "client/report/color_scale.h"
#include "client/report/html_escape.h"
#include "client/report/html_page.h"
#include "client/report/html_table.h"
#include "client/report/svg_heatmap.h"
#include "client/report/svg_histogram.h"
#include "client/report/svg_line_chart.h"

namespace layerscope::client::report {
namespace {

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST(EscapeHtmlTest, EscapesMarkupAndQuotes) {
  EXPECT_EQ(EscapeHtml("<a href=\"x\">'&'</a>"), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
  EXPECT_EQ(EscapeHtml("fp16 2-1 \xc3\xa9"), "fp16 2-1 \xc3\xa9");  // UTF-8 passes through
}

TEST(ColorScaleTest, PositionIsLinearOrLogarithmicAndClamped) {
  const ColorScale linear(0, 10, false, true);
  EXPECT_DOUBLE_EQ(linear.Position(2.5), 0.25);
  EXPECT_DOUBLE_EQ(linear.Position(-1), 0);
  EXPECT_DOUBLE_EQ(linear.Position(11), 1);
  // log10: -6 .. -2, so 1e-4 is half way and 1e-5 a quarter.
  const ColorScale logarithmic(1e-6, 1e-2, true, true);
  EXPECT_NEAR(logarithmic.Position(1e-4), 0.5, 1e-12);
  EXPECT_NEAR(logarithmic.Position(1e-5), 0.25, 1e-12);
  EXPECT_DOUBLE_EQ(logarithmic.Position(0), 0);  // an exact match sits at the good end
  // Higher is better (SQNR): the bright end is the low end.
  const ColorScale sqnr(20, 60, false, false);
  EXPECT_DOUBLE_EQ(sqnr.Position(30), 0.75);
}

TEST(ColorScaleTest, RampIsViridisInterpolated) {
  EXPECT_EQ(ColorScale::RampColor(0), "#440154");
  EXPECT_EQ(ColorScale::RampColor(1), "#fde725");
  EXPECT_EQ(ColorScale::RampColor(0.5), "#21908d");  // the middle stop, (33, 144, 141)
  // Half way between the first two stops (68,1,84) and (71,44,122): (69.5, 22.5, 103) rounded half away from 0.
  EXPECT_EQ(ColorScale::RampColor(1.0 / 16), "#461767");
  EXPECT_EQ(ColorScale::RampColor(-3), "#440154");
}

TEST(ChartAxisTest, LinearTicksAreRoundStepsAndPixelsInterpolate) {
  const ChartAxis axis(0, 1, false, 100, 200);
  EXPECT_DOUBLE_EQ(axis.Pixel(0.25), 125);
  EXPECT_DOUBLE_EQ(axis.Pixel(2), 200);  // clamped
  std::vector<std::string> labels;
  for (const Tick& tick : axis.Ticks()) labels.push_back(tick.label);
  // (1 - 0) / 5 = 0.2 is a 2 x 10^-1 step.
  EXPECT_EQ(labels, (std::vector<std::string>{"0", "0.2", "0.4", "0.6", "0.8", "1"}));
}

TEST(ChartAxisTest, FittingStartsLinearAxesAtZeroAndLogAxesAtDecades) {
  const ChartAxis linear = ChartAxis::Fitting({3, 7}, false, 0, 1);
  EXPECT_EQ(linear.low(), 0);
  EXPECT_EQ(linear.high(), 7);
  std::vector<double> values;
  for (const Tick& tick : linear.Ticks()) values.push_back(tick.value);
  EXPECT_EQ(values, (std::vector<double>{0, 2, 4, 6}));  // 7 / 5 = 1.4 rounds up to a step of 2

  const ChartAxis logarithmic = ChartAxis::Fitting({3e-5, 0, -1, 0.2}, true, 0, 1);  // 0 and -1 have no place
  EXPECT_DOUBLE_EQ(logarithmic.low(), 1e-5);
  EXPECT_DOUBLE_EQ(logarithmic.high(), 1);
  std::vector<std::string> labels;
  for (const Tick& tick : logarithmic.Ticks()) labels.push_back(tick.label);
  EXPECT_EQ(labels, (std::vector<std::string>{"1e-05", "0.0001", "0.001", "0.01", "0.1", "1"}));
  EXPECT_NEAR(ChartAxis(1e-5, 1, true, 0, 500).Pixel(1e-3), 200, 1e-9);  // 2 of 5 decades

  const ChartAxis single = ChartAxis::Fitting({4}, false, 0, 1);
  EXPECT_LT(single.low(), single.high());
}

TEST(HeatmapSvgTest, CellsAreColouredByTheirPlaceOnTheScale) {
  HeatmapData data;
  data.title = "MSE <at> mixer_output";
  data.row_labels = {"layer 0", "layer 1"};
  data.column_labels = {"fp16", "<b>mine</b>"};
  // Log scale from 1e-6 to 1e-2: 1e-4 is its middle.
  data.values = {{1e-6, 1e-4}, {1e-2, std::nullopt}};
  data.value_label = "MSE";
  data.logarithmic = true;
  const std::string svg = HeatmapSvg(data);
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  EXPECT_EQ(svg.substr(svg.size() - 6), "</svg>");
  EXPECT_NE(svg.find("fill=\"#440154\"><title>layer 0, fp16: 1.000000e-06</title>"), std::string::npos) << svg;
  EXPECT_NE(svg.find("fill=\"#21908d\"><title>layer 0, &lt;b&gt;mine&lt;/b&gt;: 1.000000e-04</title>"),
            std::string::npos);
  EXPECT_NE(svg.find("fill=\"#fde725\"><title>layer 1, fp16: 1.000000e-02</title>"), std::string::npos);
  EXPECT_NE(svg.find("<title>layer 1, &lt;b&gt;mine&lt;/b&gt;: n/a</title>"), std::string::npos);
  EXPECT_EQ(svg.find("<b>"), std::string::npos);  // every label escaped
  EXPECT_NE(svg.find("MSE &lt;at&gt; mixer_output"), std::string::npos);
  EXPECT_EQ(Count(svg, "class=\"missing\""), 1u);
}

TEST(HeatmapSvgTest, CellLabelsAreShort) {
  EXPECT_EQ(CellLabel(0), "0");
  EXPECT_EQ(CellLabel(0.5), "0.5");
  EXPECT_EQ(CellLabel(42.123), "42.1");
  EXPECT_EQ(CellLabel(1.2345e-5), "1.23e-05");
}

TEST(HistogramSvgTest, BarsSpanTheirBinsAndRiseToTheirCounts) {
  HistogramData data;
  data.edges = {1, 10, 100};
  data.counts = {3, 1};
  data.logarithmic_x = true;
  data.markers = {{10, "P50"}};
  const std::string svg = HistogramSvg(data);
  // The plot area runs x 78..600 and y 228..30 (a 620 x 280 frame). x: log10 0..2, so 10 lands half way, at 339;
  // y: 0..3, so a count of 3 reaches the top (30) and a count of 1 a third of the way (228 - 198 / 3 = 162).
  EXPECT_NE(svg.find("x=\"78.00\" y=\"30.00\" width=\"261.00\" height=\"198.00\""), std::string::npos) << svg;
  EXPECT_NE(svg.find("x=\"339.00\" y=\"162.00\" width=\"261.00\" height=\"66.00\""), std::string::npos) << svg;
  EXPECT_NE(svg.find("<line class=\"marker\" x1=\"339.00\""), std::string::npos);
  EXPECT_EQ(Count(svg, "class=\"bar\""), 2u);
}

TEST(LineChartSvgTest, PathsFollowThePointsAndBreakWhereAPointHasNoPlace) {
  LineChartData data;
  data.logarithmic_y = true;
  data.series = {{"MSE", {0, 1, 2, 3}, {1e-4, 1e-2, 0, 1e-3}}};
  const std::string svg = LineChartSvg(data);
  // One series: the plot area runs x 78..860 (x 0..3, so 1 is at 78 + 782 / 3) and y 242..44 (top 30 + 14 for the
  // legend line; height 280 + 14). y: log10 -4..-2, so 1e-4 is at the bottom, 1e-2 at the top and 1e-3 half way
  // (143). The 0 has no place on a log axis: the line stops there and starts again.
  EXPECT_NE(svg.find("d=\"M78.00 242.00 L338.67 44.00 M860.00 143.00\""), std::string::npos) << svg;
  EXPECT_NE(svg.find(">MSE</text>"), std::string::npos);
}

TEST(HtmlTableTest, EscapesCellsAndKeepsTheirClasses) {
  EXPECT_EQ(HtmlTable({"a<b"}, {{HtmlCell("x&y", "very-good")}, {"z"}}),
            "<table><thead><tr><th>a&lt;b</th></tr></thead><tbody><tr><td class=\"very-good\">x&amp;y</td></tr>"
            "<tr><td>z</td></tr></tbody></table>");
}

TEST(ChooserTest, FigureKeysJoinTheChosenValues) {
  EXPECT_EQ(Chooser("g", "mode", {{"fp16", "fp16"}, {"a\"b", "x"}}),
            "<label>mode <select class=\"chooser\" data-group=\"g\"><option value=\"fp16\">fp16</option>"
            "<option value=\"a&quot;b\">x</option></select></label>");
  EXPECT_EQ(ChoosableFigure("g", {"fp16", "3", "ssm_output"}, "<svg></svg>"),
            "<figure data-group=\"g\" data-key=\"fp16|3|ssm_output\"><svg></svg></figure>");
}

TEST(HtmlPageTest, OneDocumentThatFetchesNothing) {
  HtmlPage page("report <of> fp16");
  page.AddSection("summary", "Summary & more", "<p>body</p>");
  const std::string html = page.Render();
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(html.find("<title>report &lt;of&gt; fp16</title>"), std::string::npos);
  EXPECT_NE(html.find("<a href=\"#summary\">Summary &amp; more</a>"), std::string::npos);
  EXPECT_NE(html.find("<section id=\"summary\"><h2>Summary &amp; more</h2>\n<p>body</p>"), std::string::npos);
  EXPECT_NE(html.find("Content-Security-Policy\" content=\"default-src 'none'"), std::string::npos);
  // No address to fetch anything from.
  EXPECT_EQ(html.find("http:"), std::string::npos);
  EXPECT_EQ(html.find("https:"), std::string::npos);
  EXPECT_EQ(html.find(" src="), std::string::npos);
}

}  // namespace
}  // namespace layerscope::client::report
