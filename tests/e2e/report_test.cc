// `layerscope report --html` against the real server on the embedded model, and the page rendered in headless
// Chromium as CI renders it: it draws (the screenshot is not blank and shows the heatmap's colours), its script
// runs to its end, and the console stays empty (no script error, no fetch the page's policy refused). The page's
// numbers are checked against the comparison's --json and against sizes worked out by hand.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/e2e/cli_process.h"
#include "tests/e2e/headless_chromium.h"
#include "tests/e2e/png_image.h"
#include "tests/e2e/shared_server.h"
#include "tests/server/test_dir.h"

namespace layerscope::e2e {
namespace {

// Two points keep the page's summary short enough for the heatmap to be in the screenshot's window.
const std::vector<std::string> kSizes = {"--samples", "2", "--seq-len", "64", "--points", "mixer_output,ssm_output"};

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

std::string Joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const std::string& line : lines) out += line + "\n";
  return out;
}

class ReportTest : public ::testing::Test {
 protected:
  // `layerscope report --html DIR/NAME` with kSizes and `extra`; the path of the page.
  std::string Report(const std::string& name, const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {"report", "--html", dir_ + "/" + name};
    args.insert(args.end(), kSizes.begin(), kSizes.end());
    args.insert(args.end(), extra.begin(), extra.end());
    const CliResult run = RunCli(Against(SharedServer(), args), std::chrono::seconds(120));
    EXPECT_EQ(run.exit_code, 0) << run.err;
    EXPECT_EQ(run.out, "Report written to " + dir_ + "/" + name + "\n");
    return dir_ + "/" + name;
  }

  server::testing::TestDir tmp_;
  const std::string dir_ = tmp_.path();
};

// How many pixels are not the page's white, and how many colours the screenshot has.
struct Ink {
  size_t inked = 0;
  std::set<uint32_t> colors;
};

Ink InkOf(const PngImage& image) {
  Ink ink;
  for (int y = 0; y < image.height; ++y) {
    for (int x = 0; x < image.width; ++x) {
      const uint32_t rgb = image.Rgb(x, y);
      ink.colors.insert(rgb);
      if (rgb != 0xffffff) ++ink.inked;
    }
  }
  return ink;
}

bool HasColorNear(const PngImage& image, uint32_t rgb, int tolerance) {
  for (int y = 0; y < image.height; ++y) {
    for (int x = 0; x < image.width; ++x) {
      const uint32_t p = image.Rgb(x, y);
      bool near = true;
      for (const int shift : {16, 8, 0}) {
        near = near &&
               std::abs(static_cast<int>((p >> shift) & 0xff) - static_cast<int>((rgb >> shift) & 0xff)) <= tolerance;
      }
      if (near) return true;
    }
  }
  return false;
}

TEST_F(ReportTest, RendersInChromiumWithoutConsoleErrors) {
  const std::string html = Report("report.html");
  const RenderedPage page = RenderInChromium(html, dir_, 1280, 2600);
  EXPECT_TRUE(page.console.empty()) << Joined(page.console);
  EXPECT_NE(page.dom.find("data-report-ready=\"yes\""), std::string::npos) << "the page's script did not finish";
  // The script shows one heatmap of the 5 metrics x 2 points and hides the others.
  EXPECT_EQ(Count(page.dom, "<figure data-group=\"heatmap\""), 10u);
  EXPECT_EQ(Count(page.dom, "<figure data-group=\"heatmap\" data-key=\"mse|mixer_output\">"), 1u);
  EXPECT_EQ(Count(page.dom, "<figure data-group=\"heatmap\" data-key=\"mse|mixer_output\" style"), 0u);
  EXPECT_EQ(Count(page.dom, "style=\"display: none;\"><svg class=\"chart heatmap\""), 9u);

  const PngImage shot = PngImage::Read(page.screenshot_path);
  EXPECT_EQ(shot.width, 1280);
  EXPECT_EQ(shot.height, 2600);
  const Ink ink = InkOf(shot);
  EXPECT_GT(ink.inked, static_cast<size_t>(shot.width) * shot.height / 50) << "the screenshot is (almost) blank";
  EXPECT_GT(ink.colors.size(), 50u);
  // The heatmap shown first (MSE at mixer_output) spans its values: its smallest cell has the ramp's dark end and its
  // largest the bright end.
  EXPECT_TRUE(HasColorNear(shot, 0x440154, 2)) << "no cell at the dark end of the heatmap";
  EXPECT_TRUE(HasColorNear(shot, 0xfde725, 2)) << "no cell at the bright end of the heatmap";
}

TEST_F(ReportTest, CheckerSeesScriptErrorsRefusedFetchesAndBlankPages) {
  // The same checks on pages that break them, so that the test above can fail.
  const std::string broken = dir_ + "/broken.html";
  std::ofstream(broken) << "<!DOCTYPE html><html><head><meta http-equiv=\"Content-Security-Policy\" "
                           "content=\"default-src 'none'; script-src 'unsafe-inline'; img-src data:\"></head><body>"
                           "<img src=\"https://example.invalid/x.png\"><script>notDefined();</script></body></html>";
  const RenderedPage page = RenderInChromium(broken, dir_, 400, 300);
  EXPECT_EQ(page.console.size(), 4u) << Joined(page.console);  // two messages, in each of the two runs
  EXPECT_NE(Joined(page.console).find("Uncaught ReferenceError: notDefined"), std::string::npos);
  EXPECT_NE(Joined(page.console).find("Content Security Policy"), std::string::npos);
  EXPECT_EQ(page.dom.find("data-report-ready"), std::string::npos);

  const std::string blank = dir_ + "/blank.html";
  std::ofstream(blank) << "<!DOCTYPE html><html><body></body></html>";
  EXPECT_EQ(InkOf(PngImage::Read(RenderInChromium(blank, dir_, 400, 300).screenshot_path)).inked, 0u);
}

TEST_F(ReportTest, NumbersAreTheComparisons) {
  const std::string html = ReadAll(Report("report.html"));
  std::vector<std::string> args = {"compare-all"};
  args.insert(args.end(), kSizes.begin(), kSizes.end());
  args.insert(args.end(), {"--json", "-"});
  const CliResult compared = RunCli(Against(SharedServer(), args));
  ASSERT_EQ(compared.exit_code, 0) << compared.err;
  const nlohmann::json json = nlohmann::json::parse(compared.out);
  size_t checked = 0;
  for (const nlohmann::json& row : json["rows"]) {
    char cell[128];
    // The MSE heatmap's tooltip of this (layer, mode) at this point.
    std::snprintf(cell, sizeof(cell), "<title>layer %d, %s: %.6e</title>", row["layer"].get<int>(),
                  row["mode"].get<std::string>().c_str(), row["metrics"]["mse"].get<double>());
    EXPECT_NE(html.find(cell), std::string::npos) << cell;
    ++checked;
  }
  // 10 modes (fp16, bf16 and the quantized 1, 0, 2-0 ... 2-4, 3) x 6 layers x 2 points.
  EXPECT_EQ(checked, 10u * 6 * 2);
}

TEST_F(ReportTest, SameComparisonSamePage) {
  const std::string first = ReadAll(Report("first.html", {"fp16", "2-1"}));
  EXPECT_GT(first.size(), 10000u);
  EXPECT_EQ(first, ReadAll(Report("second.html", {"fp16", "2-1"})));
}

TEST_F(ReportTest, AnalysisSectionsHoldTheServersAnalyses) {
  const std::string html = ReadAll(Report("report.html", {"fp16", "2-1", "--detail-layers", "0,-1"}));
  EXPECT_EQ(html.find("Not available from this server"), std::string::npos);
  // Every pair of a capture is in its |d| distribution: 2 samples x 64 tokens x 192 channels at mixer_output
  // (d_model) and x 384 at ssm_output (d_inner).
  EXPECT_NE(html.find("data-key=\"2-1|5|mixer_output\""), std::string::npos);
  EXPECT_NE(html.find("24576 finite pairs"), std::string::npos);
  EXPECT_NE(html.find("49152 finite pairs"), std::string::npos);
  // The model-level table: the reference row, and 2 x 63 positions that have a next token, for each mode.
  EXPECT_NE(html.find("<td>fp32 (reference)</td><td>0</td><td>0</td><td>100.00%</td>"), std::string::npos);
  EXPECT_NE(html.find("<td>126</td></tr>"), std::string::npos);
  // Next to the error at the layer's output, though ssm_output was compared after it.
  EXPECT_NE(html.find("<th>Last layer MSE at mixer_output</th>"), std::string::npos);
  // Localization covers the quantized mode only.
  EXPECT_NE(html.find("<th>2-1: born / grows</th>"), std::string::npos);
  EXPECT_EQ(html.find("<th>fp16: born / grows</th>"), std::string::npos);

  // The same captures' numbers from compare --json: a breakdown's MSE is Compare's MSE, and a stage's error in the
  // full run is Compare's relative MSE at the stage's output (ssm: ssm_output, the 6th stage; out_proj:
  // mixer_output, the 8th).
  std::vector<std::string> args = {"compare", "2-1", "--layers", "-1", "--json", "-"};
  args.insert(args.end(), kSizes.begin(), kSizes.end());
  const CliResult compared = RunCli(Against(SharedServer(), args));
  ASSERT_EQ(compared.exit_code, 0) << compared.err;
  for (const nlohmann::json& row : nlohmann::json::parse(compared.out)["rows"]) {
    const std::string point = row["point"].get<std::string>();
    const nlohmann::json& metrics = row["metrics"];
    char text[160];
    std::snprintf(text, sizeof(text), "%d channels; capture MSE %.6e,", point == "ssm_output" ? 384 : 192,
                  metrics["mse"].get<double>());
    EXPECT_NE(html.find(text), std::string::npos) << text;
    std::snprintf(text, sizeof(text), "<title>in the full run: %d, %.6e</title>", point == "ssm_output" ? 5 : 7,
                  metrics["relative_mse"].get<double>());
    EXPECT_NE(html.find(text), std::string::npos) << text;
  }
}

TEST_F(ReportTest, BadOptionsAreNamed) {
  const CliResult no_html = RunCli(Against(SharedServer(), {"report", "fp16"}));
  EXPECT_EQ(no_html.exit_code, 2);
  EXPECT_NE(no_html.err.find("--html"), std::string::npos) << no_html.err;

  const CliResult bad_layers =
      RunCli(Against(SharedServer(), {"report", "fp16", "--html", dir_ + "/x.html", "--detail-layers", "x"}));
  EXPECT_EQ(bad_layers.exit_code, 2);
  EXPECT_NE(bad_layers.err.find("--detail-layers: 'x' is not a layer or a range"), std::string::npos) << bad_layers.err;

  const CliResult unwritable = RunCli(Against(SharedServer(), {"report", "fp16", "--html", dir_ + "/no/such/x.html"}));
  EXPECT_EQ(unwritable.exit_code, 1);
  EXPECT_NE(unwritable.err.find("--html: cannot write " + dir_ + "/no/such/x.html"), std::string::npos)
      << unwritable.err;

  const CliResult bad_mode = RunCli(Against(SharedServer(), {"report", "nosuchmode", "--html", dir_ + "/x.html"}));
  EXPECT_EQ(bad_mode.exit_code, 2);
  EXPECT_NE(bad_mode.err.find("nosuchmode"), std::string::npos) << bad_mode.err;
  // A failed report leaves no page, whole or partial.
  EXPECT_NE(access((dir_ + "/x.html").c_str(), F_OK), 0);
  EXPECT_NE(access((dir_ + "/x.html.partial").c_str(), F_OK), 0);
}

}  // namespace
}  // namespace layerscope::e2e
