// Every invalid request the server rejects reaches the user as exit code 2 and one line naming the field at fault.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "tests/e2e/cli_process.h"
#include "tests/e2e/shared_server.h"

namespace layerscope::e2e {
namespace {

struct Case {
  std::vector<std::string> args;
  std::string field;  // what the one error line must name
};

TEST(ValidationTest, InvalidRequestsExitTwoNamingTheField) {
  // A token file whose sequences are shorter than the --seq-len asked for.
  char tokens[] = "/tmp/layerscope_e2e_tokens_XXXXXX";
  const int fd = mkstemp(tokens);
  ASSERT_GE(fd, 0);
  close(fd);
  std::ofstream(tokens) << "1 2 3\n4 5 6\n";

  // Small sizes wherever the size is not what is wrong, so a request the server wrongly accepted ends quickly.
  const std::vector<Case> cases = {
      {{"compare", "9-9", "--samples", "1", "--seq-len", "16"}, "modes[0]"},
      {{"compare", "fp16", "nosuchmode", "--samples", "1", "--seq-len", "16"}, "modes[1]"},
      {{"compare", "fp16", "fp16", "--samples", "1", "--seq-len", "16"}, "modes[1]"},
      {{"compare", "fp32", "--samples", "1", "--seq-len", "16"}, "modes[0]"},
      {{"compare", "fp16", "--reference", "nosuchmode", "--samples", "1", "--seq-len", "16"}, "reference_mode"},
      {{"compare", "fp16", "--layers", "6", "--samples", "1", "--seq-len", "16"}, "layers[0]"},
      {{"compare", "fp16", "--layers", "0,-7", "--samples", "1", "--seq-len", "16"}, "layers[1]"},
      {{"compare", "fp16", "--points", "nosuchpoint", "--samples", "1", "--seq-len", "16"}, "points[0]"},
      {{"compare", "fp16", "--samples", "1", "--seq-len", "100000000"}, "seq_len"},
      {{"compare", "fp16", "--samples", "100000000", "--seq-len", "16"}, "samples"},
      {{"compare", "fp16", "--samples", "2", "--batch-size", "3", "--seq-len", "16"}, "batch_size"},
      {{"compare", "fp16", "--mode-spec", "mine:nosuchfield=1", "--samples", "1", "--seq-len", "16"},
       "custom_modes[0]"},
      {{"compare", "--mode-spec", "fp16:base=fp16", "--samples", "1", "--seq-len", "16"}, "custom_modes[0]"},
      {{"compare", "fp16", "--model", "nosuchmodel", "--samples", "1", "--seq-len", "16"}, "model"},
      {{"compare", "fp16", "--tokens-file", tokens, "--samples", "2", "--seq-len", "16"}, "data.tokens"},
  };
  for (const Case& c : cases) {
    const CliResult run = RunCli(Against(SharedServer(), c.args));
    SCOPED_TRACE(c.field);
    EXPECT_EQ(run.exit_code, 2) << run.err;
    EXPECT_EQ(run.out, "");
    EXPECT_EQ(run.err.rfind("layerscope: error: compare: ", 0), 0u) << run.err;
    EXPECT_NE(run.err.find(c.field), std::string::npos) << run.err;
    EXPECT_EQ(run.err.find('\n'), run.err.size() - 1) << "not one line: " << run.err;
  }
  std::remove(tokens);

  // The server is still serving.
  const CliResult run = RunCli(Against(SharedServer(), {"compare", "fp16", "--layers", "0", "--points", "mixer_output",
                                                        "--samples", "1", "--seq-len", "16"}));
  EXPECT_EQ(run.exit_code, 0) << run.err;
}

}  // namespace
}  // namespace layerscope::e2e
