// `breakdown` and `effect` (issue 7: breakdowns and model-level effect) with the real client against the real
// server on the embedded model. The numbers are checked against independent ones: a breakdown's totals against
// Compare's metrics of the same (mode, layer, point), the reference against an exact copy of itself, and fp16's
// model-level effect against a W8A8 mode's. Bad requests are sent through the CLI and, for the fields the CLI does
// not expose, through the Analysis stub; a server with a token refuses callers without it.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "layerscope/v1/analysis.grpc.pb.h"
#include "server/auth/token_store.h"
#include "tests/e2e/cli_process.h"
#include "tests/e2e/json_schema.h"
#include "tests/e2e/shared_server.h"

namespace layerscope::e2e {
namespace {

using Json = nlohmann::ordered_json;

const std::vector<std::string> kData = {"--samples", "3", "--seq-len", "32"};

// The --json - document of `args` (with kData), which must succeed and conform to client/JSON_SCHEMA.md.
Json JsonOf(std::vector<std::string> args) {
  args.insert(args.end(), kData.begin(), kData.end());
  args.insert(args.end(), {"--json", "-"});
  const CliResult run = RunCli(Against(SharedServer(), args), std::chrono::seconds(120));
  EXPECT_EQ(run.exit_code, 0) << run.err;
  const Json document = Json::parse(run.out);
  std::string problems;
  for (const std::string& problem : JsonSchema::FromRepository().Check(document, document.value("command", "")))
    problems += problem + "\n";
  EXPECT_EQ(problems, "");
  return document;
}

double Relative(double a, double b) { return std::abs(a - b) / std::max(std::abs(b), 1e-300); }

TEST(AnalysisTest, BreakdownAgreesWithCompare) {
  const std::vector<std::string> selection = {"--layers", "0,-1", "--points", "ssm_output,mixer_output"};
  std::vector<std::string> breakdown_args = {"breakdown", "--mode", "fp16,0", "--top-k", "5"};
  breakdown_args.insert(breakdown_args.end(), selection.begin(), selection.end());
  std::vector<std::string> compare_args = {"compare", "fp16", "0"};
  compare_args.insert(compare_args.end(), selection.begin(), selection.end());
  const Json breakdown = JsonOf(breakdown_args);
  const Json compare = JsonOf(compare_args);

  ASSERT_EQ(breakdown["breakdowns"].size(), 8u);
  int matched = 0;
  for (const Json& b : breakdown["breakdowns"]) {
    SCOPED_TRACE(b["mode"].get<std::string>() + " layer " + std::to_string(b["layer"].get<int>()) + " " +
                 b["point"].get<std::string>());
    for (const Json& row : compare["rows"]) {
      if (row["mode"] != b["mode"] || row["layer"] != b["layer"] || row["point"] != b["point"]) continue;
      ++matched;
      const Json& m = row["metrics"];
      EXPECT_LT(Relative(b["mse"], m["mse"]), 1e-12);
      EXPECT_EQ(b["max_abs"].get<double>(), m["max_abs_diff"].get<double>());
      EXPECT_EQ(b["count"], m["count"]);
      // Exact percentiles over the same float32 |d| population.
      for (const Json& p : b["histogram"]["percentiles"]) {
        const double q = p["q"];
        for (const auto& [key, at] : {std::pair<const char*, double>{"p50", 50}, {"p90", 90}, {"p95", 95}, {"p99", 99}})
          if (q == at) EXPECT_EQ(p["value"].get<double>(), m[key].get<double>()) << key;
      }
    }
    // Equal-size samples: the mean of the per-sample MSEs is the overall MSE; so is the mean over positions.
    const std::vector<double> per_sample = b["per_sample"]["mse"];
    const std::vector<double> per_position = b["per_position"]["mse"];
    ASSERT_EQ(per_sample.size(), 3u);
    ASSERT_EQ(per_position.size(), 32u);
    double sample_mean = 0, position_mean = 0, channel_sum = 0;
    for (double v : per_sample) sample_mean += v / 3;
    for (double v : per_position) position_mean += v / 32;
    const std::vector<double> per_channel = b["per_channel"]["mse"];
    const std::vector<int64_t> channel_count = b["per_channel"]["count"];
    int64_t count = 0;
    for (size_t c = 0; c < per_channel.size(); ++c) {
      channel_sum += per_channel[c] * channel_count[c];
      count += channel_count[c];
    }
    EXPECT_LT(Relative(sample_mean, b["mse"]), 1e-12);
    EXPECT_LT(Relative(position_mean, b["mse"]), 1e-12);
    EXPECT_LT(Relative(channel_sum / count, b["mse"]), 1e-12);
    EXPECT_EQ(count, b["count"].get<int64_t>());
    // The top channels are the largest per-channel MSEs, and the max over samples is the overall max.
    ASSERT_EQ(b["top_channels"].size(), 5u);
    const int top = b["top_channels"][0]["channel"];
    for (double v : per_channel) EXPECT_LE(v, per_channel[top]);
    const std::vector<double> sample_max = b["per_sample"]["max_abs"];
    EXPECT_EQ(*std::max_element(sample_max.begin(), sample_max.end()), b["max_abs"].get<double>());
    // Every pair is in one bin or among the zeros; the edges run from the smallest to the largest non-zero |d|.
    const Json& h = b["histogram"];
    int64_t binned = h["zeros"];
    for (int64_t n : h["counts"]) binned += n;
    EXPECT_EQ(binned, h["total"].get<int64_t>());
    EXPECT_EQ(h["total"], b["count"]);
    // (|d| rounded to float32, as the percentiles' population is.)
    EXPECT_EQ(h["edges"].back().get<double>(), static_cast<float>(b["max_abs"].get<double>()));
  }
  EXPECT_EQ(matched, 8);
}

TEST(AnalysisTest, BreakdownTextNamesTheOutliersAndOutWritesTheArrays) {
  char stem[] = "/tmp/layerscope_e2e_breakdown_XXXXXX";
  close(mkstemp(stem));
  const std::string json_path = std::string(stem) + ".json";
  std::vector<std::string> args = {"breakdown",  "--mode",  "0", "--layers", "-1",     "--points",
                                   "ssm_output", "--top-k", "3", "--out",    json_path};
  args.insert(args.end(), kData.begin(), kData.end());
  const CliResult run = RunCli(Against(SharedServer(), args), std::chrono::seconds(120));
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.out.find("Outlier channels (top 3 of "), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("Samples (worst 3 of 3 by MSE)"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("Token positions (worst 3 of 32 by MSE)"), std::string::npos) << run.out;
  std::ifstream file(json_path);
  std::stringstream content;
  content << file.rdbuf();
  const Json document = Json::parse(content.str());
  ASSERT_EQ(document["breakdowns"].size(), 1u);
  const Json& b = document["breakdowns"][0];
  EXPECT_EQ(b["per_channel"]["mse"].size(), b["channels"].get<size_t>());
  // The channel the text names first is the JSON's top channel.
  EXPECT_NE(run.out.find("  " + std::to_string(b["top_channels"][0]["channel"].get<int>()) + " "), std::string::npos);

  // numpy (Debian's python3-numpy) reads each profile's .npy: float32 [2, n], the JSON's MSE and max |d| rounded.
  const std::string npy = std::string(stem) + "_0_layer_" + std::to_string(b["layer"].get<int>()) + "_ssm_output_";
  const std::string script =
      "import json, sys, numpy as np\n"
      "d = json.load(open(sys.argv[1]))['breakdowns'][0]\n"
      "for name in ('per_sample', 'per_position', 'per_channel'):\n"
      "    a = np.load(sys.argv[2] + name + '.npy')\n"
      "    assert a.dtype == np.float32 and a.shape == (2, len(d[name]['mse'])), (name, a.dtype, a.shape)\n"
      "    assert (a[0] == np.float32(d[name]['mse'])).all() and (a[1] == np.float32(d[name]['max_abs'])).all(), name\n"
      "print('ok')\n";
  const std::string command = "/usr/bin/python3 -c \"" + script + "\" " + json_path + " " + npy + " 2>&1";
  std::FILE* pipe = popen(command.c_str(), "r");
  std::string output;
  char buffer[4096];
  while (size_t n = std::fread(buffer, 1, sizeof buffer, pipe)) output.append(buffer, n);
  pclose(pipe);
  EXPECT_EQ(output, "ok\n");
  for (const char* name : {"per_sample", "per_position", "per_channel"}) std::remove((npy + name + ".npy").c_str());
  std::remove(json_path.c_str());
  std::remove(stem);
}

TEST(AnalysisTest, EffectOfFp16IsTinyAndOfAQuantizedModeLarger) {
  const Json effect = JsonOf({"effect", "fp16", "0"});
  ASSERT_EQ(effect["effects"].size(), 2u);
  const Json& fp16 = effect["effects"][0];
  const Json& w8a8 = effect["effects"][1];
  EXPECT_EQ(fp16["positions"], 3 * 31);
  EXPECT_EQ(effect["reference_positions"], 3 * 31);
  EXPECT_LT(fp16["kl_mean"].get<double>(), 1e-4);
  EXPECT_GT(w8a8["kl_mean"].get<double>(), 10 * fp16["kl_mean"].get<double>());
  EXPECT_GE(fp16["top1_agreement"].get<double>(), w8a8["top1_agreement"].get<double>());
  EXPECT_LE(fp16["kl_mean"].get<double>(), fp16["kl_max"].get<double>());
  // A byte-level model trained on this text: its perplexity is far below the 256 of a uniform guess.
  EXPECT_GT(effect["reference_perplexity"].get<double>(), 1);
  EXPECT_LT(effect["reference_perplexity"].get<double>(), 20);
  EXPECT_LT(Relative(fp16["perplexity"], effect["reference_perplexity"]), 1e-3);
  EXPECT_EQ(effect["point"], "block_output");
  EXPECT_GT(w8a8["layer_relative_mse"].get<double>(), fp16["layer_relative_mse"].get<double>());
}

TEST(AnalysisTest, TheReferenceAgainstItselfAgreesEverywhere) {
  // A composed mode with fp32's fields computes exactly what the reference does.
  const Json effect = JsonOf({"effect", "--mode-spec", "same:base=fp32"});
  ASSERT_EQ(effect["effects"].size(), 1u);
  const Json& same = effect["effects"][0];
  EXPECT_EQ(same["top1_agreement"].get<double>(), 1.0);
  EXPECT_EQ(same["kl_mean"].get<double>(), 0.0);
  EXPECT_EQ(same["kl_max"].get<double>(), 0.0);
  EXPECT_EQ(same["perplexity"].get<double>(), effect["reference_perplexity"].get<double>());
}

TEST(AnalysisTest, TheSameRequestGivesTheSameBytes) {
  const std::vector<std::string> args = {"breakdown", "--mode", "0", "--layers", "0", "--points", "conv1d_output"};
  EXPECT_EQ(JsonOf(args)["breakdowns"].dump(), JsonOf(args)["breakdowns"].dump());
  EXPECT_EQ(JsonOf({"effect", "0"})["effects"].dump(), JsonOf({"effect", "0"})["effects"].dump());
}

TEST(AnalysisTest, BadCommandLinesAreRefusedClearly) {
  struct Case {
    std::vector<std::string> args;
    int exit_code;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{"breakdown", "--mode", "2-9"}, 2, "modes[0]: unknown mode \"2-9\""},
      {{"breakdown", "--mode", "0", "--top-k", "0"}, 2, "--top-k"},
      {{"breakdown", "--mode", "0", "--points", "nowhere"}, 2, "points[0]"},
      {{"effect", "0", "--layers", "0"}, 2, "effect: --layers does not apply"},
      {{"effect", "0", "--seq-len", "1"}, 2, "seq_len: 1 leaves no next token"},
  };
  for (const Case& c : cases) {
    const CliResult run = RunCli(Against(SharedServer(), c.args));
    EXPECT_EQ(run.exit_code, c.exit_code) << run.err;
    EXPECT_NE(run.err.find(c.message), std::string::npos) << run.err;
  }
}

TEST(AnalysisTest, BadAnalysisFieldsNameTheFieldAndWhatIsAllowed) {
  auto stub = v1::Analysis::NewStub(SharedServer().NewChannel());
  auto breakdown = [&](const std::function<void(v1::BreakdownRequest*)>& change) {
    v1::BreakdownRequest request;
    request.mutable_comparison()->add_modes("fp16");
    request.mutable_comparison()->set_samples(1);
    request.mutable_comparison()->set_seq_len(8);
    change(&request);
    grpc::ClientContext context;
    v1::BreakdownResponse response;
    return stub->Breakdown(&context, request, &response);
  };
  struct Case {
    std::function<void(v1::BreakdownRequest*)> change;
    std::string message;
  };
  const std::vector<Case> cases = {
      {[](v1::BreakdownRequest* r) { r->set_top_k(-1); }, "top_k: -1 is outside [0, 1000]"},
      {[](v1::BreakdownRequest* r) { r->set_histogram_bins(1001); }, "histogram_bins: 1001 is outside [0, 1000]"},
      {[](v1::BreakdownRequest* r) { r->add_percentiles(101); }, "percentiles[0]: 101.000000 is outside [0, 100]"},
      {[](v1::BreakdownRequest* r) {
         r->add_percentiles(90);
         r->add_percentiles(50);
       },
       "percentiles[1]: 50.000000 does not follow 90.000000"},
      {[](v1::BreakdownRequest* r) { r->mutable_comparison()->clear_modes(); }, "modes"},
  };
  for (const Case& c : cases) {
    const grpc::Status status = breakdown(c.change);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
    EXPECT_NE(status.error_message().find(c.message), std::string::npos) << status.error_message();
  }
  // A valid request with its own histogram: the bins and percentiles asked for.
  v1::BreakdownRequest request;
  request.mutable_comparison()->add_modes("0");
  request.mutable_comparison()->add_layers(0);
  request.mutable_comparison()->add_points("mixer_output");
  request.mutable_comparison()->set_samples(1);
  request.mutable_comparison()->set_seq_len(8);
  request.set_histogram_bins(7);
  request.add_percentiles(0);
  request.add_percentiles(100);
  grpc::ClientContext context;
  v1::BreakdownResponse response;
  const grpc::Status status = stub->Breakdown(&context, request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  const v1::AbsDiffHistogram& h = response.breakdowns(0).histogram();
  EXPECT_EQ(h.counts_size(), 7);
  EXPECT_EQ(h.edges_size(), 8);
  ASSERT_EQ(h.percentiles_size(), 2);
  EXPECT_EQ(h.percentiles(1).value(), static_cast<float>(response.breakdowns(0).max_abs()));

  v1::ModelEffectRequest effect;
  effect.mutable_comparison()->add_modes("0");
  effect.mutable_comparison()->add_points("mixer_output");
  grpc::ClientContext effect_context;
  v1::ModelEffectResponse effect_response;
  const grpc::Status effect_status = stub->ModelEffect(&effect_context, effect, &effect_response);
  EXPECT_EQ(effect_status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(effect_status.error_message().find("points: a model effect compares the logits only"), std::string::npos)
      << effect_status.error_message();
}

TEST(AnalysisAuthTest, TheAnalysesAuthenticateAsEveryRpcDoes) {
  constexpr char kToken[] = "ls_analysis-e2e-token";
  ServerProcess server({"--no-quantize", "--token", "ana:user:" + auth::Sha256Hex(kToken)});
  const std::vector<std::string> small = {"--samples", "1", "--seq-len", "8"};
  for (const std::vector<std::string>& command :
       {std::vector<std::string>{"breakdown", "--mode", "fp16", "--layers", "0", "--points", "mixer_output"},
        std::vector<std::string>{"effect", "fp16"}}) {
    std::vector<std::string> args = {"--server", server.address()};
    args.insert(args.end(), command.begin(), command.end());
    args.insert(args.end(), small.begin(), small.end());
    const CliResult missing = RunCli(args);
    EXPECT_EQ(missing.exit_code, 1) << missing.err;
    EXPECT_NE(missing.err.find("missing credentials"), std::string::npos) << missing.err;
    args.insert(args.end(), {"--token", kToken});
    const CliResult allowed = RunCli(args);
    EXPECT_EQ(allowed.exit_code, 0) << allowed.err;
  }
}

}  // namespace
}  // namespace layerscope::e2e
