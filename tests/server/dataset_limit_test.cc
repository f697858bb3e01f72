// --max-dataset-bytes through the real layerscoped: a gzip bomb uploaded, or left under --data-root, answers
// INVALID_ARGUMENT naming the file and the limit, without the server's memory growing by the bomb; a dataset
// exactly at the limit is read.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "layerscope/v1/layerscope.grpc.pb.h"
#include "tests/core/data/dataset_files.h"
#include "tests/server/compare_call.h"
#include "tests/server/test_dir.h"
#include "tests/support/server_process.h"

namespace layerscope::server {
namespace {

using testing::CompareOutcome;
using testing::RunCompare;
using testing::TestDir;

constexpr int64_t kLimit = 1 << 20;
constexpr uint64_t kBombBytes = uint64_t{256} << 20;  // gzip'd to about 256 KB
constexpr int kSeqLen = 16;

const std::string kLimitError =
    ": more than 1048576 bytes once decompressed, over this server's limit max-dataset-bytes (layerscoped "
    "--max-dataset-bytes)";

// The most memory process `pid` has held so far (VmHWM), in KiB.
long PeakRssKib(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
  }
  ADD_FAILURE() << "no VmHWM in /proc/" << pid << "/status";
  return 0;
}

// Two rows of token ids in a .npy of exactly kLimit bytes: a 128-byte header and 2 x 131056 int32 ids.
std::string NpyAtTheLimit() {
  std::vector<int32_t> values(2 * 131056);
  for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<int32_t>(i % 200);
  return NpyBytes("<i4", "(2, 131056)", values);
}

v1::CompareRequest Request(const v1::DataSource& data) {
  v1::CompareRequest request;
  request.add_modes("fp16");
  request.add_layers(0);
  request.set_samples(2);
  request.set_seq_len(kSeqLen);
  *request.mutable_data() = data;
  return request;
}

v1::CompareRequest UploadRequest(const std::string& name, const std::string& content) {
  v1::DataSource data;
  data.mutable_upload()->set_name(name);
  data.mutable_upload()->set_content(content);
  return Request(data);
}

class DatasetLimitTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TestDir;
    const std::string root = dir_->Sub("inputs");
    std::ofstream(root + "/bomb.jsonl.gz", std::ios::binary) << GzipBomb("{\"text\": \"", 'a', kBombBytes);
    server_ = new ServerProcess({"--data-root", root, "--max-dataset-bytes", std::to_string(kLimit)});
  }
  static void TearDownTestSuite() {
    delete server_;
    delete dir_;
  }

  DatasetLimitTest() : stub_(v1::Layerscope::NewStub(server_->NewChannel())) {}

  CompareOutcome Compare(const v1::CompareRequest& request) { return RunCompare(*stub_, request); }

  static TestDir* dir_;
  static ServerProcess* server_;
  std::unique_ptr<v1::Layerscope::Stub> stub_;
};

TestDir* DatasetLimitTest::dir_ = nullptr;
ServerProcess* DatasetLimitTest::server_ = nullptr;

TEST_F(DatasetLimitTest, RefusesAnUploadedBombNamingTheLimitWithoutHoldingIt) {
  const std::string bomb = GzipBomb("", '\0', kBombBytes);
  ASSERT_LT(bomb.size(), 1u << 20);
  const long before_kib = PeakRssKib(server_->pid());
  const CompareOutcome outcome = Compare(UploadRequest("bomb.npy.gz", bomb));
  EXPECT_EQ(outcome.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(outcome.status.error_message(), "data.upload: bomb.npy.gz" + kLimitError);
  EXPECT_LT(PeakRssKib(server_->pid()) - before_kib, 128 << 10)
      << "KiB of the server's peak memory grew on a 256 MB bomb under a 1 MiB limit";
}

TEST_F(DatasetLimitTest, RefusesABombUnderTheDataRootNamingItByItsRequestName) {
  v1::DataSource data;
  data.set_file("bomb.jsonl.gz");
  const long before_kib = PeakRssKib(server_->pid());
  const CompareOutcome outcome = Compare(Request(data));
  EXPECT_EQ(outcome.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(outcome.status.error_message(), "data.file: bomb.jsonl.gz" + kLimitError);
  EXPECT_LT(PeakRssKib(server_->pid()) - before_kib, 128 << 10);
}

TEST_F(DatasetLimitTest, ReadsAnUploadExactlyAtTheLimit) {
  const std::string npy = NpyAtTheLimit();
  ASSERT_EQ(npy.size(), static_cast<size_t>(kLimit));
  const CompareOutcome outcome = Compare(UploadRequest("ids.npy", npy));
  EXPECT_TRUE(outcome.status.ok()) << outcome.status.error_message();

  const CompareOutcome refused = Compare(UploadRequest("over.npy", npy + '\0'));
  EXPECT_EQ(refused.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(refused.status.error_message(), "data.upload: over.npy" + kLimitError);
}

}  // namespace
}  // namespace layerscope::server
