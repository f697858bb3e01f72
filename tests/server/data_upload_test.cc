// Datasets and tokenizers through the real layerscoped: a checkpoint whose vocabulary fits the fixture tokenizer,
// served with --tokenizer and calibrated on --calibration-data, compared on uploaded datasets.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "core/data/byte_samples.h"
#include "core/data/dataset.h"
#include "core/data/tokenizer.h"
#include "layerscope/v1/layerscope.grpc.pb.h"
#include "tests/server/compare_call.h"
#include "tests/server/test_dir.h"
#include "tests/support/server_process.h"
#include "tests/support/tokenizer_checkpoint.h"

namespace layerscope::server {
namespace {

using testing::CompareOutcome;
using testing::RunCompare;
using testing::TestDir;

constexpr int kMaxRequestBytes = 256 << 10;
constexpr int kSeqLen = 16;

// C4-like documents, each well over kSeqLen tokens of the fixture tokenizer, except the last.
const std::vector<std::string>& Documents() {
  static const std::vector<std::string> documents = {
      "The quick brown fox jumps over the lazy dog, and then it runs far away into the green hills.",
      "Numbers like 12345 and 3.14159 appear in many documents; so do dates such as 2024-01-31.",
      "Caf\xc3\xa9 au lait, na\xc3\xafve r\xc3\xa9sum\xc3\xa9s and \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e text all "
      "tokenize byte by byte where the merges stop.",
      "Short one.",
  };
  return documents;
}

std::string JsonLines(const std::vector<std::string>& documents) {
  std::string out;
  for (size_t i = 0; i < documents.size(); ++i) {
    out += nlohmann::json{{"text", documents[i]}, {"url", "https://example.com/" + std::to_string(i)}}.dump() + "\n";
  }
  return out;
}

std::string Gzip(const std::string& bytes) {
  z_stream stream{};
  deflateInit2(&stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);  // 16: gzip framing
  std::string out(deflateBound(&stream, bytes.size()), '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  stream.avail_in = static_cast<uInt>(bytes.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  deflate(&stream, Z_FINISH);
  out.resize(stream.total_out);
  deflateEnd(&stream);
  return out;
}

v1::CompareRequest Request(int samples) {
  v1::CompareRequest request;
  request.add_modes("2-1");
  request.add_layers(0);
  request.add_layers(-1);
  request.set_samples(samples);
  request.set_seq_len(kSeqLen);
  return request;
}

v1::CompareRequest UploadRequest(const std::string& name, const std::string& content, int samples = 2) {
  v1::CompareRequest request = Request(samples);
  v1::Upload* upload = request.mutable_data()->mutable_upload();
  upload->set_name(name);
  upload->set_content(content);
  return request;
}

v1::CompareRequest TokensRequest(const std::vector<std::vector<int32_t>>& samples) {
  v1::CompareRequest request = Request(static_cast<int>(samples.size()));
  for (const auto& ids : samples) {
    auto* sequence = request.mutable_data()->mutable_tokens()->add_samples();
    for (int32_t id : ids) sequence->add_ids(id);
  }
  return request;
}

std::vector<std::string> Rows(const CompareOutcome& outcome) {
  std::vector<std::string> rows;
  for (const auto& event : outcome.events) {
    if (event.has_row()) rows.push_back(event.row().DebugString());
  }
  return rows;
}

class DataUploadTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TestDir;
    const std::string model = WriteTokenizerCheckpoint(dir_->Sub("tiny-neox"));
    const std::string calibration = dir_->path() + "/calibration.jsonl.gz";
    std::ofstream(calibration, std::ios::binary) << Gzip(JsonLines(Documents()));
    server_ = new ServerProcess({"--model", model, "--tokenizer", FixtureTokenizerPath(), "--calibration-data",
                                 calibration, "--calibration-samples", "2", "--calibration-seq-len", "32",
                                 "--max-request-bytes", std::to_string(kMaxRequestBytes)});
  }
  static void TearDownTestSuite() {
    delete server_;
    delete dir_;
  }

  DataUploadTest() : stub_(v1::Layerscope::NewStub(server_->NewChannel())) {}

  // The first `count` documents of Documents() as the fixture tokenizer reads them, truncated to kSeqLen: what the
  // server's default layout takes from an upload.
  static std::vector<std::vector<int32_t>> FirstDocumentTokens(int count) {
    const auto tokenizer = LoadTokenizerFile(FixtureTokenizerPath());
    std::vector<std::vector<int32_t>> samples;
    for (int i = 0; i < count; ++i) {
      std::vector<int32_t> ids = tokenizer->Encode(Documents()[i]);
      EXPECT_GE(ids.size(), kSeqLen) << Documents()[i];
      ids.resize(kSeqLen);
      samples.push_back(std::move(ids));
    }
    return samples;
  }

  CompareOutcome Compare(const v1::CompareRequest& request) { return RunCompare(*stub_, request); }

  static TestDir* dir_;
  static ServerProcess* server_;
  std::unique_ptr<v1::Layerscope::Stub> stub_;
};

TestDir* DataUploadTest::dir_ = nullptr;
ServerProcess* DataUploadTest::server_ = nullptr;

TEST_F(DataUploadTest, ModelIsCalibratedOnTheCalibrationData) {
  grpc::ClientContext context;
  v1::ListModelsResponse response;
  ASSERT_TRUE(stub_->ListModels(&context, v1::ListModelsRequest(), &response).ok());
  ASSERT_EQ(response.models_size(), 1);
  EXPECT_TRUE(response.models(0).quantized_available()) << response.models(0).quantization();
  EXPECT_NE(response.models(0).quantization().find("calibrated on 2 x 32 tokens, one per document"), std::string::npos)
      << response.models(0).quantization();
  EXPECT_NE(server_->Stderr().find("tokenizer of model \"tiny-neox\": --tokenizer " + FixtureTokenizerPath()),
            std::string::npos);
}

TEST_F(DataUploadTest, UploadedJsonLinesRunAsTheirTokens) {
  const CompareOutcome upload = Compare(UploadRequest("c4-sample.jsonl.gz", Gzip(JsonLines(Documents()))));
  ASSERT_TRUE(upload.status.ok()) << upload.status.error_message();
  const CompareOutcome tokens = Compare(TokensRequest(FirstDocumentTokens(2)));
  ASSERT_TRUE(tokens.status.ok()) << tokens.status.error_message();
  EXPECT_EQ(Rows(upload).size(), 12u);  // 1 mode x 2 layers x 6 points
  EXPECT_EQ(Rows(upload), Rows(tokens));
  // Other documents give other rows: the comparison above can fail.
  const CompareOutcome later = Compare(TokensRequest({FirstDocumentTokens(3)[1], FirstDocumentTokens(3)[2]}));
  ASSERT_TRUE(later.status.ok()) << later.status.error_message();
  EXPECT_NE(Rows(upload), Rows(later));
}

TEST_F(DataUploadTest, UploadedTokenizerLayoutAndSeedAreUsed) {
  const std::string plain = JsonLines(Documents());
  v1::CompareRequest request = UploadRequest("sample.jsonl", plain, 3);
  request.mutable_data()->mutable_upload()->set_tokenizer_json(ReadTextFile(FixtureTokenizerPath()));
  request.mutable_data()->mutable_upload()->set_layout(v1::SAMPLE_LAYOUT_PACKED);
  request.mutable_data()->mutable_upload()->set_seed(7);
  const CompareOutcome upload = Compare(request);
  ASSERT_TRUE(upload.status.ok()) << upload.status.error_message();

  const std::string local = dir_->path() + "/sample.jsonl";
  std::ofstream(local) << plain;
  SampleOptions options;
  options.count = 3;
  options.seq_len = kSeqLen;
  options.layout = SampleLayout::kPacked;
  options.seed = 7;
  const CompareOutcome tokens =
      Compare(TokensRequest(DrawSamples(local, *LoadTokenizerFile(FixtureTokenizerPath()), options).ids));
  ASSERT_TRUE(tokens.status.ok()) << tokens.status.error_message();
  EXPECT_EQ(Rows(upload), Rows(tokens));
}

TEST_F(DataUploadTest, BadUploadsAreRefusedAndNothingStays) {
  CompareOutcome outcome =
      Compare(UploadRequest("bad.jsonl", JsonLines({Documents()[0]}) + "not json\n" + JsonLines({Documents()[1]})));
  EXPECT_EQ(outcome.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(outcome.status.error_message().rfind("data.upload: bad.jsonl:2: ", 0), 0u)
      << outcome.status.error_message();

  outcome = Compare(UploadRequest("few.jsonl.gz", Gzip(JsonLines(Documents())), 4));
  EXPECT_EQ(outcome.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(outcome.status.error_message(),
            "data.upload: few.jsonl.gz: 4 samples need 4 documents of at least 16 tokens; it has 3 among 4 (1 "
            "shorter): use packed samples, a shorter seq_len or fewer samples");

  outcome = Compare(UploadRequest("", "text"));
  EXPECT_EQ(outcome.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(outcome.status.error_message().rfind("data.upload.name: empty", 0), 0u) << outcome.status.error_message();

  outcome = Compare(UploadRequest("huge.txt", std::string(kMaxRequestBytes, 'x')));
  EXPECT_EQ(outcome.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << outcome.status.error_message();

  EXPECT_TRUE(std::filesystem::is_empty(server_->data_dir() + "/uploads"));
}

// A model whose vocabulary is neither byte-level nor given a tokenizer takes token ids only.
TEST(DataWithoutTokenizerTest, TextIsRefusedTokenIdsAreNot) {
  ServerProcess server({"--model", LAYERSCOPE_SOURCE_DIR "/tests/fixtures/hf/random-hf-sharded", "--no-quantize"});
  const auto stub = v1::Layerscope::NewStub(server.NewChannel());
  v1::CompareRequest request;
  request.add_modes("fp16");
  request.set_samples(2);
  request.set_seq_len(kSeqLen);

  request.mutable_data()->set_text(std::string(100, 'x'));
  CompareOutcome outcome = RunCompare(*stub, request);
  EXPECT_EQ(outcome.status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(outcome.status.error_message(),
            "data.text: model \"random-hf-sharded\" cannot tokenize text: the server has no tokenizer for this "
            "104-token vocabulary (not byte-level): start it with --tokenizer FILE or put tokenizer.json in the "
            "model's folder; or send token ids (data.tokens, or a .npy file)");

  v1::Upload* upload = request.mutable_data()->mutable_upload();
  upload->set_name("c4-sample.jsonl.gz");
  upload->set_content(Gzip(JsonLines(Documents())));
  outcome = RunCompare(*stub, request);
  EXPECT_EQ(outcome.status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(outcome.status.error_message().find("or send the tokenizer with the upload"), std::string::npos)
      << outcome.status.error_message();

  upload->set_tokenizer_json(ReadTextFile(FixtureTokenizerPath()));
  outcome = RunCompare(*stub, request);
  EXPECT_EQ(outcome.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(outcome.status.error_message(),
            "data.upload.tokenizer_json: its 865 ids do not fit model \"random-hf-sharded\"'s vocabulary of 104");
}

}  // namespace
}  // namespace layerscope::server
