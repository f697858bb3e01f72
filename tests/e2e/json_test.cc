// The --json documents of the real client against the real server: checked against client/JSON_SCHEMA.md (read
// from that file) and parsed back.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "tests/e2e/cli_process.h"
#include "tests/e2e/json_schema.h"
#include "tests/e2e/shared_server.h"

namespace layerscope::e2e {
namespace {

using Json = nlohmann::ordered_json;

std::string Joined(const std::vector<std::string>& problems) {
  std::string out;
  for (const std::string& problem : problems) out += problem + "\n";
  return out;
}

// Runs the client with --json - and returns the document it printed (null when it failed).
Json JsonOf(const std::vector<std::string>& args) {
  std::vector<std::string> with_json = Against(SharedServer(), args);
  with_json.insert(with_json.end(), {"--json", "-"});
  const CliResult run = RunCli(with_json);
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.err, "");
  if (run.exit_code != 0) return nullptr;
  return Json::parse(run.out);  // the whole of stdout is the document
}

std::vector<std::string> Strings(const Json& array) { return array.get<std::vector<std::string>>(); }

TEST(JsonTest, CompareToFileWithTheTextReportOnStdout) {
  char path[] = "/tmp/layerscope_e2e_json_XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  const CliResult run = RunCli(Against(
      SharedServer(), {"compare", "fp16", "--samples", "2", "--seq-len", "64", "--layers", "0,-1", "--json", path}));
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  std::remove(path);
  ASSERT_EQ(run.exit_code, 0) << run.err;

  const Json json = Json::parse(text.str());
  EXPECT_EQ(Joined(JsonSchema::FromRepository().Check(json, "compare")), "");
  EXPECT_EQ(json["command"], "compare");
  const Json& summary = json["summary"];
  EXPECT_EQ(summary["reference_mode"], "fp32");
  EXPECT_EQ(Strings(summary["modes"]), std::vector<std::string>{"fp16"});
  EXPECT_EQ(summary["layers"], Json::array({0, 5}));
  EXPECT_EQ(summary["samples"], 2);
  EXPECT_EQ(summary["seq_len"], 64);
  const size_t points = summary["points"].size();
  EXPECT_EQ(points, 6u);  // the seed's six by default
  ASSERT_EQ(json["rows"].size(), 2 * points);
  EXPECT_EQ(summary["rows"], json["rows"].size());
  EXPECT_EQ(json["layer_summaries"].size(), points);

  // The text report printed the same numbers: each row's MSE in the seed's format, in the same order.
  size_t at = 0;
  for (const Json& row : json["rows"]) {
    ASSERT_TRUE(row["metrics"]["mse"].is_number()) << row.dump();
    char mse[32];
    std::snprintf(mse, sizeof(mse), "  MSE:           %12.6e", row["metrics"]["mse"].get<double>());
    at = run.out.find(mse, at);
    ASSERT_NE(at, std::string::npos) << "no '" << mse << "' in order in the text report";
  }
}

TEST(JsonTest, CompareAllRunsEveryListedModeButTheReference) {
  const Json modes = JsonOf({"modes"});
  std::vector<std::string> expected;
  for (const Json& mode : modes["modes"]) {
    if (mode["name"] != "fp32") expected.push_back(mode["name"]);
  }
  const Json json =
      JsonOf({"compare-all", "--samples", "1", "--seq-len", "16", "--layers", "-1", "--points", "mixer_output"});
  EXPECT_EQ(Joined(JsonSchema::FromRepository().Check(json, "compare")), "");
  EXPECT_EQ(json["command"], "compare-all");
  EXPECT_EQ(Strings(json["summary"]["modes"]), expected);
  EXPECT_EQ(json["rows"].size(), expected.size());
}

TEST(JsonTest, Listings) {
  const JsonSchema schema = JsonSchema::FromRepository();
  const Json modes = JsonOf({"modes"});
  EXPECT_EQ(Joined(schema.Check(modes, "modes")), "");
  EXPECT_GE(modes["modes"].size(), 3u);  // fp32, fp16, bf16 at least

  const Json models = JsonOf({"models"});
  EXPECT_EQ(Joined(schema.Check(models, "models")), "");
  ASSERT_EQ(models["models"].size(), 1u);
  EXPECT_EQ(models["models"][0]["n_layer"], 6);
  EXPECT_EQ(models["models"][0]["d_model"], 192);
  EXPECT_EQ(models["models"][0]["is_default"], true);

  const Json points = JsonOf({"points"});
  EXPECT_EQ(Joined(schema.Check(points, "points")), "");
  int defaults = 0;
  for (const Json& point : points["points"]) defaults += point["is_default"].get<bool>() ? 1 : 0;
  EXPECT_EQ(defaults, 6);
}

}  // namespace
}  // namespace layerscope::e2e
