// The compare commands of the real client against the real server, beyond the goldens: comparewithfp, the
// progress bar, composed modes, inline data, and compare-all on a model without its W8A8 modes.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "tests/e2e/cli_process.h"
#include "tests/e2e/shared_server.h"

namespace layerscope::e2e {
namespace {

const std::vector<std::string> kCompareFp16 = {"compare",   "fp16", "--samples", "2",
                                               "--seq-len", "64",   "--layers",  "0,-1"};

// The detail blocks and the layer summary of the section that starts at `section`: from "Layers:" to the end of
// the averages.
std::string Results(const std::string& report, size_t section) {
  const size_t begin = report.find("Layers:", section);
  const size_t last = report.find("  Rel. MAE:", begin);
  if (begin == std::string::npos || last == std::string::npos) return "(no results in the section)";
  return report.substr(begin, report.find('\n', last) - begin);
}

TEST(CompareTest, ComparewithfpIsCompareAndTheOutputIsDeterministic) {
  const CliResult compare = RunCli(Against(SharedServer(), kCompareFp16));
  std::vector<std::string> args = kCompareFp16;
  args[0] = "comparewithfp";
  const CliResult comparewithfp = RunCli(Against(SharedServer(), args));
  ASSERT_EQ(compare.exit_code, 0) << compare.err;
  ASSERT_EQ(comparewithfp.exit_code, 0) << comparewithfp.err;
  EXPECT_EQ(compare.out, comparewithfp.out);  // byte for byte
}

TEST(CompareTest, ProgressBarOnlyOnATerminal) {
  const std::vector<std::string> args = Against(SharedServer(), kCompareFp16);
  CliProcess::Options terminal;
  terminal.stderr_is_terminal = true;
  CliProcess process(args, terminal);
  const CliResult on_terminal = process.Wait(std::chrono::seconds(60));
  ASSERT_EQ(on_terminal.exit_code, 0) << on_terminal.err;
  // Drawn with carriage returns, then erased before the report.
  EXPECT_EQ(on_terminal.err.rfind("\r[", 0), 0u) << on_terminal.err;
  EXPECT_NE(on_terminal.err.find("100% ("), std::string::npos) << on_terminal.err;
  EXPECT_EQ(on_terminal.err.substr(on_terminal.err.size() - 4), "\r\033[K");
  // The report itself does not depend on where stderr goes.
  const CliResult piped = RunCli(args);
  ASSERT_EQ(piped.exit_code, 0) << piped.err;
  EXPECT_EQ(piped.err, "");
  EXPECT_EQ(on_terminal.out, piped.out);
}

TEST(CompareTest, ComposedModeIsComparedToo) {
  // A composed mode with the fp16 row's fields computes exactly what fp16 does.
  const CliResult run =
      RunCli(Against(SharedServer(), {"compare", "fp16", "--mode-spec", "myfp16:base=fp16", "--samples", "1",
                                      "--seq-len", "16", "--layers", "0", "--points", "mixer_output"}));
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const size_t fp16 = run.out.find("Comparing Mode 'fp16' vs Reference 'fp32' at point 'mixer_output'");
  const size_t mine = run.out.find("Comparing Mode 'myfp16' vs Reference 'fp32' at point 'mixer_output'");
  ASSERT_NE(fp16, std::string::npos) << run.out;
  ASSERT_NE(mine, std::string::npos) << run.out;
  EXPECT_EQ(Results(run.out, fp16), Results(run.out, mine));
}

TEST(CompareTest, TextAndTokenFilesAreSentInline) {
  // The embedded model is byte-level: a text's bytes are its token ids, so both files give the same samples.
  const std::string text = "Mamba layers, compared one mode at a time.\n";  // 43 bytes: two samples of 16
  std::string ids;
  for (size_t i = 0; i < 32; ++i)
    ids += std::to_string(static_cast<unsigned char>(text[i])) + (i % 16 == 15 ? "\n" : " ");
  char text_path[] = "/tmp/layerscope_e2e_text_XXXXXX";
  char ids_path[] = "/tmp/layerscope_e2e_ids_XXXXXX";
  for (char* path : {text_path, ids_path}) {
    const int fd = mkstemp(path);
    ASSERT_GE(fd, 0);
    close(fd);
  }
  std::ofstream(text_path) << text;
  std::ofstream(ids_path) << ids;
  const std::vector<std::string> args = {"compare", "fp16",     "--samples", "2",        "--seq-len",
                                         "16",      "--layers", "0",         "--points", "mixer_output"};
  std::vector<std::string> with_text = Against(SharedServer(), args);
  with_text.insert(with_text.end(), {"--text-file", text_path});
  std::vector<std::string> with_ids = Against(SharedServer(), args);
  with_ids.insert(with_ids.end(), {"--tokens-file", ids_path});
  const CliResult from_text = RunCli(with_text);
  const CliResult from_ids = RunCli(with_ids);
  std::remove(text_path);
  std::remove(ids_path);
  ASSERT_EQ(from_text.exit_code, 0) << from_text.err;
  ASSERT_EQ(from_ids.exit_code, 0) << from_ids.err;
  EXPECT_NE(from_text.out.find("2 samples of 16 tokens"), std::string::npos) << from_text.out;
  EXPECT_EQ(from_text.out, from_ids.out);
  // Not the embedded text's samples.
  const CliResult embedded = RunCli(Against(SharedServer(), args));
  ASSERT_EQ(embedded.exit_code, 0) << embedded.err;
  EXPECT_NE(embedded.out, from_text.out);
}

TEST(CompareAllTest, LeavesOutTheModesTheModelCannotRun) {
  ServerProcess server({"--no-quantize"});
  const CliResult run = RunCli({"--server", server.address(), "compare-all", "--samples", "1", "--seq-len", "16",
                                "--layers", "0", "--points", "mixer_output"});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.out.find("Comparing all modes vs Reference 'fp32': fp16, bf16\n"), std::string::npos) << run.out;
  EXPECT_EQ(run.err.rfind("layerscope: note: compare-all: leaving out 1, 0, 2-0", 0), 0u) << run.err;
}

}  // namespace
}  // namespace layerscope::e2e
