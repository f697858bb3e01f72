// `localize` and `relations` (issue 7, Breakdowns and localization) against the real server on the embedded model,
// loaded as the server loads it by default (so the W8A8 model is the one MODES-IMPLEMENTED.md measured). The numbers
// are checked against what `compare` reports for the same requests: a stage's full-run error is Compare's
// relative_mse at its output, and each relationship's measured value is the layers' max or mean of Compare's mse.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/e2e/cli_process.h"
#include "tests/e2e/json_schema.h"
#include "tests/support/server_process.h"

namespace layerscope::e2e {
namespace {

using Json = nlohmann::ordered_json;

std::string Joined(const std::vector<std::string>& problems) {
  std::string out;
  for (const std::string& p : problems) out += p + "\n";
  return out;
}

class LocalizeRelationsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = new ServerProcess(); }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }

  static CliResult Run(std::vector<std::string> args) {
    args.insert(args.begin(), {"--server", server_->address()});
    return RunCli(args, std::chrono::seconds(240));
  }

  // The `compare --json -` document of `args`, which must succeed.
  static Json CompareJson(std::vector<std::string> args) {
    args.insert(args.begin(), "compare");
    args.insert(args.end(), {"--json", "-"});
    const CliResult run = Run(args);
    EXPECT_EQ(run.exit_code, 0) << run.err;
    return Json::parse(run.out);
  }

  static ServerProcess* server_;
};

ServerProcess* LocalizeRelationsTest::server_ = nullptr;

const std::vector<std::string> kStages = {"norm",    "in_proj", "conv1d",   "x_proj",
                                          "dt_proj", "ssm",     "hadamard", "out_proj"};

TEST_F(LocalizeRelationsTest, LocalizeFindsWhereTheErrorIsBornAndGrows) {
  const std::vector<std::string> data = {"--samples", "2", "--seq-len", "64"};
  std::vector<std::string> args = {"localize", "--mode", "0", "--json", "-"};
  args.insert(args.end(), data.begin(), data.end());
  const CliResult run = Run(args);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const Json json = Json::parse(run.out);
  EXPECT_EQ(Joined(JsonSchema::FromRepository().Check(json, "localize")), "");
  ASSERT_EQ(json["modes"].size(), 1u);
  EXPECT_EQ(json["modes"][0]["mode"], "0");
  EXPECT_EQ(json["summary"]["reference_mode"], "fp32");
  const Json& layers = json["modes"][0]["layers"];
  ASSERT_EQ(layers.size(), 6u);  // the embedded model's layers

  // The full-run errors are Compare's relative MSE at the stages' outputs.
  std::vector<std::string> compare_args = {"0", "--points",
                                           "mixer_input,in_proj_output,conv1d_output,x_proj_output,dt,ssm_output,"
                                           "out_proj_input,mixer_output"};
  compare_args.insert(compare_args.end(), data.begin(), data.end());
  const Json compared = CompareJson(compare_args);
  for (const Json& layer : layers) {
    ASSERT_EQ(layer["stages"].size(), kStages.size());
    size_t born = 0, grows = 1;
    for (size_t s = 0; s < kStages.size(); ++s) {
      const Json& stage = layer["stages"][s];
      EXPECT_EQ(stage["stage"], kStages[s]);
      const double isolated = stage["isolated"], full = stage["full"];
      // Mode 0 quantizes every stage: each adds an error of its own.
      EXPECT_GT(isolated, 0.0) << layer["layer"] << " " << kStages[s];
      bool found = false;
      for (const Json& row : compared["rows"]) {
        if (row["layer"] == layer["layer"] && row["point"] == stage["point"]) {
          const double relative_mse = row["metrics"]["relative_mse"];
          EXPECT_NEAR(full, relative_mse, 1e-9 * relative_mse) << layer["layer"] << " " << kStages[s];
          found = true;
        }
      }
      EXPECT_TRUE(found) << stage["point"];
      if (isolated > double(layer["stages"][born]["isolated"])) born = s;
      auto growth = [&](size_t i) {
        return double(layer["stages"][i]["full"]) - double(layer["stages"][i - 1]["full"]);
      };
      if (s > 1 && growth(s) > growth(grows)) grows = s;
    }
    EXPECT_EQ(layer["born"], kStages[born]) << layer["layer"];
    EXPECT_EQ(layer["grows"], kStages[grows]) << layer["layer"];
  }

  // The text: per layer, where the error is born and where it grows, marked in the stage table.
  const CliResult text = Run({"localize", "--mode", "0", "--layers", "0", "--samples", "2", "--seq-len", "64"});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  const std::string born = layers[0]["born"], grows = layers[0]["grows"];
  EXPECT_NE(text.out.find("Layer 0: born at " + born + ", grows most at " + grows), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("<- born"), std::string::npos) << text.out;
  EXPECT_EQ(text.out.find("Layer 1:"), std::string::npos) << text.out;
}

TEST_F(LocalizeRelationsTest, LocalizeRefusesBadRequestsNamingTheField) {
  const CliResult float_mode = Run({"localize", "--mode", "fp16", "--samples", "1", "--seq-len", "16"});
  EXPECT_EQ(float_mode.exit_code, 2) << float_mode.err;
  EXPECT_NE(float_mode.err.find("modes[0]: \"fp16\" is a float mode"), std::string::npos) << float_mode.err;
  const CliResult points =
      Run({"localize", "--mode", "0", "--points", "mixer_input", "--samples", "1", "--seq-len", "16"});
  EXPECT_EQ(points.exit_code, 2) << points.err;
  EXPECT_NE(points.err.find("points: 1 given; leave it empty"), std::string::npos) << points.err;
  const CliResult no_mode = Run({"localize", "--samples", "1", "--seq-len", "16"});
  EXPECT_EQ(no_mode.exit_code, 2) << no_mode.err;
  EXPECT_EQ(no_mode.err, "layerscope: error: localize: name at least one --mode or --mode-spec\n");
  const CliResult layer = Run({"localize", "--mode", "0", "--layers", "9", "--samples", "1", "--seq-len", "16"});
  EXPECT_EQ(layer.exit_code, 2) << layer.err;
  EXPECT_NE(layer.err.find("layers"), std::string::npos) << layer.err;
}

TEST_F(LocalizeRelationsTest, RelationsHoldOnTheEmbeddedModelAndMatchCompare) {
  const std::vector<std::string> data = {"--samples", "2", "--seq-len", "192"};
  std::vector<std::string> args = {"relations", "--json", "-"};
  args.insert(args.end(), data.begin(), data.end());
  const CliResult run = Run(args);
  const Json json = Json::parse(run.out);
  EXPECT_EQ(Joined(JsonSchema::FromRepository().Check(json, "relations")), "");
  ASSERT_GE(json["relations"].size(), 5u);
  bool all_pass = true;
  for (const Json& r : json["relations"]) {
    const double measured = r["measured"], limit = r["limit"];
    const bool pass = r["op"] == "<" ? measured < limit : measured > limit;
    EXPECT_EQ(r["pass"], pass) << r["name"];
    EXPECT_TRUE(r["pass"].get<bool>()) << r["name"] << ": " << measured << " " << r["op"] << " " << limit;
    all_pass = all_pass && pass;

    // The measured value, independently: the same pair through compare, combined over layers here.
    std::vector<std::string> compare_args = {r["mode"], "--reference", r["reference"], "--points", r["point"]};
    compare_args.insert(compare_args.end(), data.begin(), data.end());
    const Json compared = CompareJson(compare_args);
    std::vector<double> values;
    for (const Json& row : compared["rows"]) values.push_back(row["metrics"][r["metric"].get<std::string>()]);
    ASSERT_EQ(values.size(), 6u);
    double expected = 0;
    if (r["over_layers"] == "max") {
      expected = *std::max_element(values.begin(), values.end());
    } else {
      for (double v : values) expected += v / values.size();
    }
    EXPECT_NEAR(measured, expected, 1e-12 + 1e-9 * std::abs(expected)) << r["name"];
  }
  EXPECT_EQ(run.exit_code, all_pass ? 0 : 4) << run.err;

  const CliResult text = Run({"relations", "--samples", "2", "--seq-len", "192"});
  EXPECT_EQ(text.exit_code, run.exit_code) << text.err;
  EXPECT_NE(text.out.find("0 vs 2-0: identical"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("PASS"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("relationships hold."), std::string::npos) << text.out;

  const CliResult fixed = Run({"relations", "--reference", "fp16"});
  EXPECT_EQ(fixed.exit_code, 2) << fixed.err;
  EXPECT_NE(fixed.err.find("relations: --reference does not apply"), std::string::npos) << fixed.err;
}

}  // namespace
}  // namespace layerscope::e2e
