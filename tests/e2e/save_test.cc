// `layerscope save` and `compare --offline` (issue 7, "Save and download"): the real client against the real server
// on loopback. The files are checked by an independent reader (numpy, through python3), and the offline compare of
// the saved arrays against the server's own compare of the same data.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "server/auth/token_store.h"
#include "tests/e2e/cli_process.h"
#include "tests/e2e/shared_server.h"
#include "tests/server/test_dir.h"

namespace layerscope::e2e {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;
using server::testing::TestDir;

// A small selection: two layers (the embedded model has six), two points, 3 samples in batches of 2 (so that the
// last batch is short), 16 tokens.
const std::vector<std::string> kSelection = {"--layers", "0,-1",      "--points", "mixer_input,ssm_output", "--samples",
                                             "3",        "--seq-len", "16",       "--batch-size",           "2"};

std::vector<std::string> With(std::vector<std::string> args, const std::vector<std::string>& more) {
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

Json ReadJson(const fs::path& path) {
  std::ifstream in(path);
  return Json::parse(in);
}

// Loads every array of every stats file in `dir` with numpy and checks its dtype, shape and the stats file's
// statistics against numpy's (fp64). Returns what the script printed: the number of arrays checked, or the problem.
std::string CheckWithNumpy(const fs::path& dir) {
  const fs::path script = dir / "check.py";
  std::ofstream(script) << R"(import glob, json, os, sys
import numpy as np
d = sys.argv[1]
n = 0
for stats_path in sorted(glob.glob(os.path.join(d, 'mode_*_stats.json'))):
    s = json.load(open(stats_path))
    mode = s['mode']
    assert os.path.basename(stats_path) == 'mode_%s_stats.json' % mode, stats_path
    for key in ('timestamp', 'num_samples', 'seq_length', 'model_dtype'):
        assert key in s, key
    for key, st in s['stats'].items():
        a = np.load(os.path.join(d, 'layer_outputs', 'mode_%s_%s.npy' % (mode, key)))
        assert a.dtype == np.float32, (key, a.dtype)
        assert list(a.shape) == st['shape'], (key, a.shape, st['shape'])
        assert a.shape[:2] == (s['num_samples'], s['seq_length']), (key, a.shape)
        assert st['dtype'] == 'float32'
        x = a.astype(np.float64)
        for name, value in (('mean', x.mean()), ('std', x.std()), ('min', x.min()), ('max', x.max()),
                            ('abs_mean', np.abs(x).mean())):
            if not np.isclose(st[name], value, rtol=1e-9, atol=1e-12):
                print('%s %s %s: %r, numpy %r' % (mode, key, name, st[name], value))
                sys.exit(0)
        n += 1
print(n)
)";
  // Debian's python3, whose numpy is the python3-numpy package (a python first on PATH may lack numpy).
  const std::string command = "/usr/bin/python3 " + script.string() + " " + dir.string() + " 2>&1";
  std::FILE* pipe = popen(command.c_str(), "r");
  std::string output;
  char buffer[4096];
  while (size_t n = std::fread(buffer, 1, sizeof buffer, pipe)) output.append(buffer, n);
  pclose(pipe);
  return output;
}

TEST(SaveTest, WritesTheSeedsLayoutThatNumpyReads) {
  TestDir dir;
  const CliResult run =
      RunCli(Against(SharedServer(), With({"save", "fp32", "2-1", "--out", dir.path(), "--yes"}, kSelection)));
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.out.find("save: 8 arrays of 2 mode(s)"), std::string::npos) << run.out;
  for (const char* mode : {"fp32", "2-1"}) {
    for (const char* name :
         {"layer_0_mixer_input", "layer_0_ssm_output", "layer_5_mixer_input", "layer_5_ssm_output"}) {
      EXPECT_TRUE(
          fs::exists(fs::path(dir.path()) / "layer_outputs" / ("mode_" + std::string(mode) + "_" + name + ".npy")))
          << mode << " " << name;
    }
  }
  const Json stats = ReadJson(fs::path(dir.path()) / "mode_2-1_stats.json");
  EXPECT_EQ(stats["mode"], "2-1");
  EXPECT_EQ(stats["num_samples"], 3);
  EXPECT_EQ(stats["seq_length"], 16);
  EXPECT_EQ(stats["model_dtype"], "float32");
  EXPECT_EQ(stats["layers"], Json::array({0, 5}));
  EXPECT_EQ(stats["points"], Json::array({"mixer_input", "ssm_output"}));
  EXPECT_EQ(stats["stats"]["layer_0_mixer_input"]["shape"], Json::array({3, 16, 192}));

  EXPECT_EQ(CheckWithNumpy(dir.path()), "8\n");
}

TEST(SaveTest, ArraysOverAChunkArriveWhole) {
  TestDir dir;
  // 4 x 512 x 384 floats = 3 MiB, in two batches of 1.5 MiB: each batch's data crosses the 1 MiB chunk size.
  const CliResult run =
      RunCli(Against(SharedServer(), {"save", "fp32", "--out", dir.path(), "--yes", "--layers", "0", "--points",
                                      "ssm_input", "--samples", "4", "--seq-len", "512", "--batch-size", "2"}));
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(fs::file_size(fs::path(dir.path()) / "layer_outputs" / "mode_fp32_layer_0_ssm_input.npy"),
            128u + 4u * 512u * 384u * 4u);
  EXPECT_EQ(CheckWithNumpy(dir.path()), "1\n");
}

TEST(SaveTest, OfflineCompareEqualsTheServersCompare) {
  TestDir dir;
  const CliResult save =
      RunCli(Against(SharedServer(), With({"save", "fp32", "2-1", "2-4", "--out", dir.path(), "--yes"}, kSelection)));
  ASSERT_EQ(save.exit_code, 0) << save.err;

  const CliResult online = RunCli(Against(SharedServer(), With({"compare", "2-1", "2-4", "--json", "-"}, kSelection)));
  ASSERT_EQ(online.exit_code, 0) << online.err;
  const CliResult offline = RunCli({"compare", "--offline", dir.path(), "2-1", "2-4", "--json", "-"});
  ASSERT_EQ(offline.exit_code, 0) << offline.err;

  const Json server_json = Json::parse(online.out), offline_json = Json::parse(offline.out);
  // The server runs on CPU: the same arrays fed to the same accumulator in the same batches give the same bits.
  ASSERT_EQ(offline_json["rows"].size(), 8u);
  EXPECT_EQ(offline_json["rows"], server_json["rows"]);
  for (const char* key : {"reference_mode", "modes", "layers", "points", "samples", "seq_len", "batch_size"}) {
    EXPECT_EQ(offline_json["summary"][key], server_json["summary"][key]) << key;
  }

  // The text report is the compare report, per (mode, point), from the same rows.
  const CliResult text =
      RunCli({"compare", "--offline", dir.path(), "2-4", "--layers", "-1", "--points", "ssm_output"});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("Layer 5 - Comparison Results"), std::string::npos) << text.out;
  EXPECT_EQ(text.out.find("Layer 0 - Comparison Results"), std::string::npos) << text.out;
}

TEST(SaveTest, GroupsExpandToTheirModes) {
  TestDir dir;
  const CliResult run =
      RunCli(Against(SharedServer(), {"save", "essential", "fp32", "--out", dir.path(), "--yes", "--layers", "0",
                                      "--points", "ssm_input", "--samples", "1", "--seq-len", "8"}));
  ASSERT_EQ(run.exit_code, 0) << run.err;
  std::vector<std::string> stats_files;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir.path())) {
    if (entry.is_regular_file()) stats_files.push_back(entry.path().filename().string());
  }
  std::sort(stats_files.begin(), stats_files.end());
  // fp32 named again after the group is saved once.
  EXPECT_EQ(stats_files, (std::vector<std::string>{"mode_0_stats.json", "mode_2-1_stats.json", "mode_2-2_stats.json",
                                                   "mode_2-4_stats.json", "mode_fp32_stats.json"}));
}

TEST(SaveTest, RefusesALargeDownloadWithoutATerminal) {
  TestDir dir;
  // stdin is /dev/null; any download is over a threshold of 0 MiB.
  const CliResult run =
      RunCli(Against(SharedServer(), With({"save", "fp32", "--out", dir.path(), "--confirm-above", "0"}, kSelection)));
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_NE(run.err.find("is over --confirm-above 0 MiB and stdin is not a terminal to ask on; pass --yes"),
            std::string::npos)
      << run.err;
  EXPECT_NE(run.out.find("save: 4 arrays of 1 mode(s)"), std::string::npos) << run.out;  // the estimate came first
  EXPECT_FALSE(fs::exists(fs::path(dir.path()) / "layer_outputs"));
}

TEST(SaveTest, BadRequestsNameTheField) {
  TestDir dir;
  struct Case {
    std::vector<std::string> args;
    const char* error;
  };
  const std::vector<Case> cases = {
      {{"save", "2-9"}, "modes[0]: unknown mode or group \"2-9\"; known modes: fp32,"},
      {{"save", "fp32", "quant_onyl"}, "modes[1]: unknown mode or group \"quant_onyl\""},
      {{"save", "fp32", "--layers", "6"}, "layers[0]: 6 is out of range"},
      {{"save", "fp32", "--points", "ssm_inptu"}, "points[0]: unknown capture point \"ssm_inptu\""},
      {{"save", "fp32", "--samples", "2", "--batch-size", "3"}, "batch_size: 3 is more than samples = 2"},
      {{"save", "fp32", "--mode-spec", "fp32:ssm=framework"}, "custom_modes[0].name: \"fp32\" is a built-in mode"},
      {{"save", "fp32", "--reference", "fp16"}, "save: --reference does not apply"},
  };
  for (const Case& c : cases) {
    const CliResult run = RunCli(Against(SharedServer(), With(c.args, {"--out", dir.path(), "--yes"})));
    EXPECT_EQ(run.exit_code, 2) << run.err;
    EXPECT_NE(run.err.find(c.error), std::string::npos) << run.err;
  }
  EXPECT_FALSE(fs::exists(fs::path(dir.path()) / "layer_outputs"));
}

TEST(SaveTest, OfflineCompareNamesWhatTheFolderHolds) {
  TestDir dir;
  const CliResult save =
      RunCli(Against(SharedServer(), {"save", "fp32", "2-1", "--out", dir.path(), "--yes", "--layers", "0", "--points",
                                      "mixer_input", "--samples", "1", "--seq-len", "8"}));
  ASSERT_EQ(save.exit_code, 0) << save.err;
  struct Case {
    std::vector<std::string> args;
    const char* error;
  };
  const std::vector<Case> cases = {
      {{"3"}, "mode 3 was not saved there (saved modes: 2-1, fp32)"},
      {{"2-1", "--points", "ssm_output"}, "--points ssm_output: not saved for fp32 (saved points: mixer_input)"},
      {{"2-1", "--layers", "2"}, "--layers 2: layer 2 was not saved for fp32"},
      {{"2-1", "--samples", "2"}, "--samples does not apply"},
      {{"fp32"}, "fp32 is the reference mode"},
  };
  for (const Case& c : cases) {
    const CliResult run = RunCli(With({"compare", "--offline", dir.path()}, c.args));
    EXPECT_EQ(run.exit_code, 2) << run.err;
    EXPECT_NE(run.err.find(c.error), std::string::npos) << run.err;
  }
}

TEST(SaveTest, AuthenticatesAsTheOtherCallsDo) {
  TestDir dir;
  const std::string token = "ls_save-e2e-token";
  ServerProcess server({"--no-quantize", "--token", "carol:user:" + auth::Sha256Hex(token)});
  const std::vector<std::string> save = {"save",     "fp32",      "--out",    dir.path(),    "--yes",
                                         "--layers", "0",         "--points", "mixer_input", "--samples",
                                         "1",        "--seq-len", "8"};
  const CliResult missing = RunCli(Against(server, save));
  EXPECT_EQ(missing.exit_code, 1) << missing.err;
  EXPECT_NE(missing.err.find("missing credentials"), std::string::npos) << missing.err;
  EXPECT_FALSE(fs::exists(fs::path(dir.path()) / "layer_outputs"));

  const CliResult with_token = RunCli(Against(server, With({"--token", token}, save)));
  EXPECT_EQ(with_token.exit_code, 0) << with_token.err;
  EXPECT_TRUE(fs::exists(fs::path(dir.path()) / "layer_outputs" / "mode_fp32_layer_0_mixer_input.npy"));
  // The log names the user, as for the other RPCs.
  EXPECT_NE(server.Stderr().find("Save from"), std::string::npos);
  EXPECT_NE(server.Stderr().find("user=carol"), std::string::npos);
}

}  // namespace
}  // namespace layerscope::e2e
