// Issue 8's "done means": `layerscope compare 2-1 --data c4-sample.jsonl.gz --tokenizer tokenizer.json` against a
// server holding a transformers-layout checkpoint, the real client and server binaries on loopback. The server has
// no tokenizer of its own here: it calibrates on token ids (.npy), and the client brings the tokenizer.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tests/e2e/cli_process.h"
#include "tests/support/server_process.h"
#include "tests/support/tokenizer_checkpoint.h"

namespace layerscope::e2e {
namespace {

namespace fs = std::filesystem;

// A folder of its own, removed at the end.
class ScratchDir {
 public:
  ScratchDir() {
    std::string pattern = (fs::temp_directory_path() / "layerscope-data-cli-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~ScratchDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// Runs the client from `dir`, so that the command line names the files as a user in that folder would.
CliResult RunCliIn(const fs::path& dir, const std::vector<std::string>& args) {
  const fs::path before = fs::current_path();
  fs::current_path(dir);
  CliResult result = RunCli(args);
  fs::current_path(before);
  return result;
}

void WriteGzip(const fs::path& path, const std::string& bytes) {
  gzFile file = gzopen(path.c_str(), "wb");
  gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(file);
}

// `rows` x `columns` int32 token ids in [0, vocab), as numpy writes them.
void WriteNpyIds(const fs::path& path, int rows, int columns, int64_t vocab) {
  std::string header = "{'descr': '<i4', 'fortran_order': False, 'shape': (" + std::to_string(rows) + ", " +
                       std::to_string(columns) + "), }";
  header.append(63 - (10 + header.size()) % 64, ' ');
  header += '\n';
  std::string bytes = std::string("\x93NUMPY\x01\x00", 8);
  bytes += static_cast<char>(header.size() & 0xFF);
  bytes += static_cast<char>(header.size() >> 8);
  bytes += header;
  for (int i = 0; i < rows * columns; ++i) {
    const int32_t id = static_cast<int32_t>((i * 7919) % vocab);
    bytes.append(reinterpret_cast<const char*>(&id), sizeof(id));
  }
  std::ofstream(path, std::ios::binary) << bytes;
}

TEST(DataCliTest, ComparesAnUploadedDatasetWithItsTokenizer) {
  const ScratchDir dir;
  const std::string model = WriteTokenizerCheckpoint((dir.path() / "tiny-neox").string());
  WriteNpyIds(dir.path() / "calibration.npy", 2, 32, kTokenizerCheckpointVocab);
  ServerProcess server({"--model", model, "--calibration-data", (dir.path() / "calibration.npy").string(),
                        "--calibration-samples", "2", "--calibration-seq-len", "32"});

  const fs::path work = dir.path() / "work";
  fs::create_directories(work);
  std::string lines;
  for (const char* text : {"The quick brown fox jumps over the lazy dog, and then it runs far away.",
                           "Numbers like 12345 and 3.14159 appear in many documents; so do dates."}) {
    lines += std::string("{\"text\": \"") + text + "\", \"timestamp\": \"2019-04-25T12:57:54Z\"}\n";
  }
  WriteGzip(work / "c4-sample.jsonl.gz", lines);
  fs::copy_file(FixtureTokenizerPath(), work / "tokenizer.json");

  const CliResult result =
      RunCliIn(work, {"--server", server.address(), "compare", "2-1", "--data", "c4-sample.jsonl.gz", "--tokenizer",
                      "tokenizer.json", "--samples", "2", "--seq-len", "12"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.out.find("Model: tiny-neox on cpu, 2 samples of 12 tokens"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("2-1"), std::string::npos) << result.out;

  // The same upload without the tokenizer: the server has none for this vocabulary, and says how to give one.
  const CliResult refused = RunCliIn(
      work, {"--server", server.address(), "compare", "2-1", "--data", "c4-sample.jsonl.gz", "--samples", "2"});
  EXPECT_EQ(refused.exit_code, 1) << refused.err;
  EXPECT_NE(refused.err.find("or send the tokenizer with the upload"), std::string::npos) << refused.err;
}

TEST(DataCliTest, TokenizerLayoutAndSeedNeedData) {
  for (const std::vector<std::string>& extra :
       {std::vector<std::string>{"--tokenizer", "tokenizer.json"}, {"--layout", "packed"}, {"--seed", "3"}}) {
    std::vector<std::string> args{"--server", "127.0.0.1:1", "compare", "2-1"};
    args.insert(args.end(), extra.begin(), extra.end());
    const CliResult result = RunCli(args);
    EXPECT_EQ(result.exit_code, 2) << extra[0] << ": " << result.err;
    EXPECT_NE(result.err.find("--data"), std::string::npos) << extra[0] << ": " << result.err;
  }
}

}  // namespace
}  // namespace layerscope::e2e
