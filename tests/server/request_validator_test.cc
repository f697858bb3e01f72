#include "server/service/request_validator.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "core/data/byte_samples.h"
#include "core/data/tokenizer.h"
#include "core/util/error.h"
#include "server/service/status.h"
#include "tests/server/embedded_model_entry.h"
#include "tests/server/test_dir.h"
#include "tests/server/validation_cases.h"

namespace layerscope::server {
namespace {

using testing::BaseRequest;
using testing::EmbeddedModelEntry;
using testing::TestDir;

// A model with mamba-130m's vocabulary (not byte-level) and no eval.txt of its own.
ModelEntry LargeVocabularyEntry() {
  ModelEntry entry = EmbeddedModelEntry();
  entry.info.name = "big";
  entry.info.dir = "/nonexistent";
  entry.info.config.vocab_size = 50280;
  return MakeModelEntry(entry.info, /*is_default=*/true);
}

class RequestValidatorTest : public ::testing::Test {
 protected:
  RequestValidatorTest()
      : root_(dir_.Sub("root")), models_{EmbeddedModelEntry()}, validator_(models_, testing::CaseLimits(), root_) {
    testing::PopulateDataRoot(root_, dir_.Sub("outside"));
  }

  TestDir dir_;
  std::string root_;
  std::vector<ModelEntry> models_;
  RequestValidator validator_;
};

class ValidationCaseTest : public RequestValidatorTest,
                           public ::testing::WithParamInterface<testing::ValidationCase> {};

TEST_P(ValidationCaseTest, RefusedWithCodeAndMessage) {
  const testing::ValidationCase& c = GetParam();
  v1::CompareRequest request = BaseRequest();
  c.change(&request);
  try {
    validator_.Validate(request);
    FAIL() << "accepted";
  } catch (const Error& error) {
    EXPECT_EQ(ToGrpcCode(error.kind()), c.code) << error.what();
    EXPECT_EQ(error.what(), c.message);
    EXPECT_EQ(c.message.find('\n'), std::string::npos) << "clients print messages as one line";
  }
}

INSTANTIATE_TEST_SUITE_P(Every, ValidationCaseTest, ::testing::ValuesIn(testing::ValidationCases()),
                         [](const auto& info) { return info.param.name; });

TEST_F(RequestValidatorTest, ResolvesTheBaseRequest) {
  const ValidatedCompare compare = validator_.Validate(BaseRequest());
  EXPECT_EQ(compare.model, &models_[0]);
  EXPECT_EQ(compare.request.reference.name, "fp32");
  ASSERT_EQ(compare.request.modes.size(), 1u);
  EXPECT_EQ(compare.request.modes[0].name, "fp16");
  EXPECT_EQ(compare.request.layers, (std::vector<int>{0, 5}));
  EXPECT_EQ(compare.request.points, DefaultCapturePoints());
  EXPECT_EQ(compare.samples, 2);
  EXPECT_EQ(compare.seq_len, 64);
  EXPECT_EQ(compare.request.batch_size, 2);
  EXPECT_EQ(compare.request.samples, ByteSamples(models_[0].eval_text, 2, 64));
  EXPECT_EQ(compare.data, "embedded (eval.txt of model \"embedded\")");
}

TEST_F(RequestValidatorTest, ZerosTakeTheDefaults) {
  v1::CompareRequest request;
  request.add_modes("bf16");
  const ValidatedCompare compare = validator_.Validate(request);
  EXPECT_EQ(compare.request.layers, (std::vector<int>{0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(compare.samples, 10);
  EXPECT_EQ(compare.seq_len, 512);
  EXPECT_EQ(compare.request.batch_size, 10);
  EXPECT_EQ(compare.request.samples.size(), 10u);
}

TEST_F(RequestValidatorTest, LayersAscendAndPointsKeepTheirOrder) {
  v1::CompareRequest request = BaseRequest();
  request.clear_layers();
  for (int layer : {-1, 2, -6}) request.add_layers(layer);
  for (const char* point : {"ssm_output", "mixer_input", "dt"}) request.add_points(point);
  request.set_batch_size(1);
  const ValidatedCompare compare = validator_.Validate(request);
  EXPECT_EQ(compare.request.layers, (std::vector<int>{0, 2, 5}));
  EXPECT_EQ(compare.request.points,
            (std::vector<CapturePoint>{CapturePoint::kSsmOutput, CapturePoint::kMixerInput, CapturePoint::kDt}));
  EXPECT_EQ(compare.request.batch_size, 1);
}

TEST_F(RequestValidatorTest, ModesMayBeComposedAndNamedAsReference) {
  v1::CompareRequest request = BaseRequest();
  auto* mode = request.add_custom_modes();
  mode->set_name("half.again");
  mode->set_spec("base=fp16");
  request.set_reference_mode("half.again");
  request.set_modes(0, "fp32");
  const ValidatedCompare compare = validator_.Validate(request);
  EXPECT_EQ(compare.request.reference.name, "half.again");
  EXPECT_EQ(compare.request.reference.precision, FloatPrecision::kFp16);
  EXPECT_FALSE(compare.request.reference.builtin);
  EXPECT_EQ(compare.request.modes[0].name, "fp32");
}

TEST_F(RequestValidatorTest, TokensAreTruncatedToTheRequestedShape) {
  v1::CompareRequest request = BaseRequest();
  auto* tokens = request.mutable_data()->mutable_tokens();
  for (int s = 0; s < 3; ++s) {
    auto* sequence = tokens->add_samples();
    for (int t = 0; t < 70; ++t) sequence->add_ids((s * 70 + t) % 256);
  }
  const ValidatedCompare compare = validator_.Validate(request);
  ASSERT_EQ(compare.request.samples.size(), 2u);
  for (int s = 0; s < 2; ++s) {
    ASSERT_EQ(compare.request.samples[s].size(), 64u);
    for (int t = 0; t < 64; ++t) EXPECT_EQ(compare.request.samples[s][t], (s * 70 + t) % 256);
  }
}

TEST_F(RequestValidatorTest, TextAndFilesAreCutIntoByteWindows) {
  const std::string text(200, 'x');
  std::ofstream(root_ + "/sub.txt") << text;
  v1::CompareRequest request = BaseRequest();
  request.mutable_data()->set_text(text);
  EXPECT_EQ(validator_.Validate(request).request.samples, ByteSamples(text, 2, 64));
  std::filesystem::create_directories(root_ + "/nested");
  std::filesystem::rename(root_ + "/sub.txt", root_ + "/nested/sub.txt");
  request.mutable_data()->set_file("nested/./sub.txt");
  const ValidatedCompare compare = validator_.Validate(request);
  EXPECT_EQ(compare.request.samples, ByteSamples(text, 2, 64));
  EXPECT_EQ(compare.data,
            "file \"nested/./sub.txt\": 2 x 64 tokens, packed from 1 documents of nested/./sub.txt (plain text) in "
            "file order");
}

TEST_F(RequestValidatorTest, LargeVocabulariesTakeEmbeddedBytesButNotText) {
  const std::vector<ModelEntry> models{LargeVocabularyEntry()};
  const RequestValidator validator(models, testing::CaseLimits(), root_);
  v1::CompareRequest request = BaseRequest();
  const ValidatedCompare compare = validator.Validate(request);
  EXPECT_EQ(compare.request.samples, ByteSamples(models[0].eval_text, 2, 64));
  EXPECT_EQ(compare.data, "embedded (the embedded model's eval.txt (model \"big\" has none))");

  const std::string refusal =
      ": model \"big\" cannot tokenize text: the server has no tokenizer for this 50280-token vocabulary (not "
      "byte-level): start it with --tokenizer FILE or put tokenizer.json in the model's folder; or send token ids "
      "(data.tokens, or a .npy file)";
  request.mutable_data()->set_text(std::string(200, 'x'));
  try {
    validator.Validate(request);
    FAIL() << "text accepted";
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::kFailedPrecondition);
    EXPECT_EQ(error.what(), "data.text" + refusal);
  }
  request.mutable_data()->set_file("short.txt");
  try {
    validator.Validate(request);
    FAIL() << "file accepted";
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::kFailedPrecondition);
    EXPECT_EQ(error.what(), "data.file" + refusal);
  }
}

TEST_F(RequestValidatorTest, TextAndFilesGoThroughTheModelsTokenizer) {
  const std::string tokenizer_path = LAYERSCOPE_SOURCE_DIR "/tests/fixtures/tokenizer/neox.json";
  std::vector<ModelEntry> models{EmbeddedModelEntry()};
  models[0].info.config.vocab_size = 896;
  models[0].tokenizer = FindTokenizer(models[0].info.config, "/nonexistent", tokenizer_path);
  const RequestValidator validator(models, testing::CaseLimits(), root_);
  const auto tokenizer = LoadTokenizerFile(tokenizer_path);

  std::string text;
  while (tokenizer->Encode(text).size() < 128) text += "Numbers like 12345 and caf\xc3\xa9s in 2024. ";
  v1::CompareRequest request = BaseRequest();
  request.mutable_data()->set_text(text);
  const std::vector<int32_t> ids = tokenizer->Encode(text);
  EXPECT_EQ(
      validator.Validate(request).request.samples,
      (std::vector<std::vector<int32_t>>{{ids.begin(), ids.begin() + 64}, {ids.begin() + 64, ids.begin() + 128}}));

  // A JSON-lines file: one document per sample by default.
  std::ofstream(root_ + "/docs.jsonl") << "{\"text\": \"" << text << "\"}\n{\"text\": \"x " << text << "\"}\n";
  request.mutable_data()->set_file("docs.jsonl");
  const std::vector<int32_t> second = tokenizer->Encode("x " + text);
  EXPECT_EQ(
      validator.Validate(request).request.samples,
      (std::vector<std::vector<int32_t>>{{ids.begin(), ids.begin() + 64}, {second.begin(), second.begin() + 64}}));

  models[0].info.config.vocab_size = 500;
  try {
    FindTokenizer(models[0].info.config, "/nonexistent", tokenizer_path);
    FAIL() << "a tokenizer larger than the vocabulary was accepted";
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::kInvalidArgument);
    EXPECT_EQ(error.what(), "--tokenizer " + tokenizer_path + ": its 865 ids do not fit the model's vocabulary of 500");
  }
}

// A 2-D int32 .npy file of `rows`, as numpy writes it.
void WriteNpy(const std::string& path, const std::vector<std::vector<int32_t>>& rows) {
  std::string header = "{'descr': '<i4', 'fortran_order': False, 'shape': (" + std::to_string(rows.size()) + ", " +
                       std::to_string(rows[0].size()) + "), }";
  header.append(63 - (10 + header.size()) % 64, ' ');
  header += '\n';
  std::ofstream out(path, std::ios::binary);
  out << std::string("\x93NUMPY\x01\x00", 8) << static_cast<char>(header.size() & 0xFF)
      << static_cast<char>(header.size() >> 8) << header;
  for (const auto& row : rows) out.write(reinterpret_cast<const char*>(row.data()), row.size() * sizeof(int32_t));
}

TEST_F(RequestValidatorTest, TokenIdFilesNeedNoTokenizer) {
  std::vector<ModelEntry> models{EmbeddedModelEntry()};
  models[0].info.config.vocab_size = 104;  // neither byte-level nor with a tokenizer
  models[0].tokenizer = FindTokenizer(models[0].info.config, "/nonexistent", "");
  ASSERT_EQ(models[0].tokenizer.tokenizer, nullptr);
  const RequestValidator validator(models, testing::CaseLimits(), root_);
  std::vector<std::vector<int32_t>> rows(3, std::vector<int32_t>(70));
  for (size_t i = 0; i < 3 * 70; ++i) rows[i / 70][i % 70] = static_cast<int32_t>(i % 104);
  WriteNpy(root_ + "/ids.npy", rows);

  v1::CompareRequest request = BaseRequest();
  request.mutable_data()->set_file("ids.npy");
  EXPECT_EQ(validator.Validate(request).request.samples,
            (std::vector<std::vector<int32_t>>{{rows[0].begin(), rows[0].begin() + 64},
                                               {rows[1].begin(), rows[1].begin() + 64}}));

  rows[1][5] = 104;
  WriteNpy(root_ + "/ids.npy", rows);
  try {
    validator.Validate(request);
    FAIL() << "an id outside the vocabulary was accepted";
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::kInvalidArgument);
    EXPECT_EQ(error.what(), std::string("data.file: ids.npy row 1 column 5: id 104 is outside the vocabulary [0, 104) "
                                        "of the model's vocabulary (104 ids)"));
  }
}

// The FAILED_PRECONDITION message Validate gives for `request` against `models`, or "" when it is accepted.
std::string PreconditionFailure(const std::vector<ModelEntry>& models, const v1::CompareRequest& request,
                                const std::string& root) {
  try {
    RequestValidator(models, testing::CaseLimits(), root).Validate(request);
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::kFailedPrecondition) << error.what();
    return error.what();
  }
  return "";
}

TEST_F(RequestValidatorTest, ModesNeedTheWeightsTheyRun) {
  const auto quantized = std::find_if(BuiltinModes().begin(), BuiltinModes().end(),
                                      [](const ModeSpec& mode) { return mode.weights == WeightSet::kQuantized; });
  ASSERT_NE(quantized, BuiltinModes().end()) << "no W8A8 mode in the table";
  v1::CompareRequest request = BaseRequest();
  request.add_modes(quantized->name);

  std::vector<ModelEntry> float_only{models_[0]};
  float_only[0].info.quantized_available = false;
  float_only[0].info.quantization = "not quantized: the load options said not to";
  EXPECT_EQ(PreconditionFailure(float_only, request, root_),
            "modes[1]: mode \"" + quantized->name +
                "\" runs the W8A8 model, which model \"embedded\" does not have (not quantized: the load options "
                "said not to)");

  std::vector<ModelEntry> quantized_only{models_[0]};
  quantized_only[0].info.float_available = false;
  EXPECT_EQ(PreconditionFailure(quantized_only, request, root_),
            "reference_mode: mode \"fp32\" runs the float model, which model \"embedded\" does not have (a W8A8 "
            "checkpoint holds no float weights)");
  request.set_reference_mode(quantized->name);
  request.set_modes(1, "fp32");
  EXPECT_EQ(PreconditionFailure(quantized_only, request, root_),
            "modes[0]: mode \"fp16\" runs the float model, which model \"embedded\" does not have (a W8A8 "
            "checkpoint holds no float weights)");
  EXPECT_EQ(PreconditionFailure(models_, request, root_), "");
}

}  // namespace
}  // namespace layerscope::server
