#include "core/model/checkpoint.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>

#include "core/model/safetensors_reader.h"
#include "core/model/torch_pickle_reader.h"
#include "core/util/log.h"
#include "tests/core/model/test_util.h"

namespace layerscope {
namespace {

namespace fs = std::filesystem;
using testing_util::ExpectError;
using testing_util::Fixture;
using testing_util::ReadFile;
using testing_util::ScratchDir;
using testing_util::WriteFile;

const std::string kStateSpaces = "tests/fixtures/hf/random-ss";
const std::string kSharded = "tests/fixtures/hf/random-hf-sharded";

void CopyDir(const std::string& from, const std::string& to) {
  fs::copy(from, to, fs::copy_options::recursive | fs::copy_options::overwrite_existing);
}

void SetFloat(HostTensor* t, int64_t index, float value) { std::memcpy(t->bytes.data() + 4 * index, &value, 4); }

// A checkpoint folder holding the random model's weights as one model.safetensors, after `edit`.
class BadCheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override { weights_ = LoadCheckpoint(Fixture(kStateSpaces)).weights; }

  template <typename Edit>
  std::string Write(Edit edit) {
    fs::copy_file(Fixture(kSharded + "/config.json"), dir_ / "config.json");
    std::map<std::string, HostTensor> tensors = weights_;
    edit(&tensors);
    WriteSafetensors(dir_ / "model.safetensors", tensors);
    return dir_.path();
  }
  std::string weights_file() const { return dir_ / "model.safetensors"; }

  std::map<std::string, HostTensor> weights_;
  ScratchDir dir_;
};

TEST(CheckpointTest, LoadsEmbeddedModel) {
  const Checkpoint c = LoadCheckpoint(Fixture("core/model/embedded"));
  EXPECT_EQ(c.config.layout, CheckpointLayout::kTransformers);
  EXPECT_EQ(c.config.n_layer, 6);
  EXPECT_EQ(c.config.d_model, 192);
  EXPECT_EQ(c.config.d_inner, 384);
  EXPECT_TRUE(c.config.tie_embeddings);
  EXPECT_EQ(c.weights_description, "model.safetensors");
  EXPECT_EQ(c.weights.size(), 1u + 6 * 10 + 1);  // embedding, 10 tensors a layer, norm_f; lm_head tied
  EXPECT_EQ(c.weights.count("lm_head.weight"), 0u);
  EXPECT_EQ(c.weights.count("backbone.embeddings.weight"), 0u);
  EXPECT_EQ(c.weights.at("backbone.embedding.weight").shape, (std::vector<int64_t>{256, 192}));
  EXPECT_EQ(c.weights.at("backbone.layers.5.mixer.conv1d.weight").shape, (std::vector<int64_t>{384, 1, 4}));
  EXPECT_EQ(c.weights.at("backbone.layers.0.mixer.x_proj.weight").shape, (std::vector<int64_t>{12 + 32, 384}));
  const auto expected = ExpectedWeightShapes(c.config);
  ASSERT_EQ(expected.size(), c.weights.size());
  for (const auto& [key, shape] : expected) EXPECT_EQ(c.weights.at(key).shape, shape) << key;
}

TEST(CheckpointTest, StateSpacesBinAndShardedSafetensorsAgree) {
  const Checkpoint ss = LoadCheckpoint(Fixture(kStateSpaces));
  const Checkpoint hf = LoadCheckpoint(Fixture(kSharded));
  EXPECT_EQ(ss.config.layout, CheckpointLayout::kStateSpaces);
  EXPECT_EQ(hf.config.layout, CheckpointLayout::kTransformers);
  EXPECT_EQ(ss.weights_description, "pytorch_model.bin");
  EXPECT_EQ(hf.weights_description, "3 safetensors shards");
  EXPECT_EQ(ss.config.vocab_size, hf.config.vocab_size);
  EXPECT_EQ(ss.weights.size(), 1u + 3 * 10 + 1 + 1);  // untied: lm_head.weight too
  ASSERT_EQ(ss.weights.size(), hf.weights.size());
  for (const auto& [key, tensor] : ss.weights) {
    ASSERT_EQ(hf.weights.count(key), 1u) << key;
    EXPECT_EQ(hf.weights.at(key).dtype, tensor.dtype) << key;
    EXPECT_EQ(hf.weights.at(key).shape, tensor.shape) << key;
    EXPECT_EQ(hf.weights.at(key).bytes, tensor.bytes) << key;
  }
}

TEST(CheckpointTest, ExpectedShapesFollowTheConfig) {
  MambaConfig c;
  c.d_model = 8;
  c.n_layer = 2;
  c.vocab_size = 16;
  c.d_inner = 16;
  c.d_state = 4;
  c.d_conv = 3;
  c.dt_rank = 1;
  c.proj_bias = true;
  c.conv_bias = false;
  c.tie_embeddings = false;
  const auto shapes = ExpectedWeightShapes(c);
  EXPECT_EQ(shapes.size(), 1u + 2 * 11 + 1 + 1);
  EXPECT_EQ(shapes.at("backbone.layers.1.mixer.in_proj.bias"), (std::vector<int64_t>{32}));
  EXPECT_EQ(shapes.at("backbone.layers.1.mixer.out_proj.bias"), (std::vector<int64_t>{8}));
  EXPECT_EQ(shapes.count("backbone.layers.1.mixer.conv1d.bias"), 0u);
  EXPECT_EQ(shapes.at("backbone.layers.0.mixer.x_proj.weight"), (std::vector<int64_t>{9, 16}));
  EXPECT_EQ(shapes.at("backbone.layers.0.mixer.dt_proj.weight"), (std::vector<int64_t>{16, 1}));
  EXPECT_EQ(shapes.at("backbone.layers.0.mixer.A_log"), (std::vector<int64_t>{16, 4}));
  EXPECT_EQ(shapes.at("backbone.layers.0.mixer.conv1d.weight"), (std::vector<int64_t>{16, 1, 3}));
  EXPECT_EQ(shapes.at("lm_head.weight"), (std::vector<int64_t>{16, 8}));
}

TEST_F(BadCheckpointTest, EditedCopyStillLoads) {
  const Checkpoint c = LoadCheckpoint(Write([](auto*) {}));
  EXPECT_EQ(c.weights.size(), weights_.size());
}

TEST_F(BadCheckpointTest, MissingTensor) {
  const std::string dir = Write([](auto* t) { t->erase("backbone.layers.1.mixer.D"); });
  ExpectError([&] { LoadCheckpoint(dir); }, ErrorKind::kDataLoss,
              {weights_file() + ": missing tensor \"backbone.layers.1.mixer.D\" (expected shape [80])"});
}

TEST_F(BadCheckpointTest, MisspeltTensorIsBothMissingAndUnexpected) {
  const std::string dir = Write([](auto* t) {
    t->emplace("backbone.layers.1.mixer.A_logg", t->at("backbone.layers.1.mixer.A_log"));
    t->erase("backbone.layers.1.mixer.A_log");
  });
  ExpectError([&] { LoadCheckpoint(dir); }, ErrorKind::kDataLoss,
              {weights_file(), "missing tensor \"backbone.layers.1.mixer.A_log\" (expected shape [80, 8])",
               "unexpected tensors present: \"backbone.layers.1.mixer.A_logg\""});
}

TEST_F(BadCheckpointTest, UnexpectedTensor) {
  const std::string dir =
      Write([](auto* t) { t->emplace("backbone.layers.0.mixer.extra", HostTensor::FromFloats({1}, {0})); });
  ExpectError([&] { LoadCheckpoint(dir); }, ErrorKind::kDataLoss,
              {weights_file(), "unexpected tensors \"backbone.layers.0.mixer.extra\""});
}

TEST_F(BadCheckpointTest, WrongShape) {
  const std::string dir = Write([](auto* t) {
    (*t)["backbone.layers.2.mixer.dt_proj.weight"] = HostTensor::FromFloats({80, 4}, std::vector<float>(320, 0.1f));
  });
  ExpectError(
      [&] { LoadCheckpoint(dir); }, ErrorKind::kDataLoss,
      {weights_file(), "tensor \"backbone.layers.2.mixer.dt_proj.weight\" has shape [80, 4], expected [80, 3]"});
}

TEST_F(BadCheckpointTest, WrongDType) {
  const std::string dir = Write([](auto* t) {
    HostTensor& w = t->at("backbone.layers.0.mixer.in_proj.weight");
    w.dtype = DType::kI8;
    w.bytes.resize(w.numel());
  });
  ExpectError([&] { LoadCheckpoint(dir); }, ErrorKind::kDataLoss,
              {weights_file(), "\"backbone.layers.0.mixer.in_proj.weight\" has dtype I8, expected a float dtype"});
}

TEST_F(BadCheckpointTest, NonFiniteValues) {
  const std::string dir = Write([](auto* t) {
    HostTensor& a = t->at("backbone.layers.1.mixer.A_log");
    SetFloat(&a, 5, std::numeric_limits<float>::quiet_NaN());
    SetFloat(&a, 6, std::numeric_limits<float>::infinity());
    SetFloat(&a, 639, -std::numeric_limits<float>::infinity());
  });
  ExpectError([&] { LoadCheckpoint(dir); }, ErrorKind::kDataLoss,
              {weights_file(), "\"backbone.layers.1.mixer.A_log\" has 3 non-finite values (NaN or Inf) of 640"});
}

TEST_F(BadCheckpointTest, NonFiniteHalfValues) {
  const std::string dir = Write([](auto* t) {
    HostTensor& d = t->at("backbone.layers.0.mixer.D");
    d.dtype = DType::kF16;
    d.bytes.assign(80 * 2, 0);
    d.bytes[11] = 0x7c;  // element 5: +Inf
  });
  ExpectError([&] { LoadCheckpoint(dir); }, ErrorKind::kDataLoss,
              {weights_file(), "\"backbone.layers.0.mixer.D\" has 1 non-finite values"});
}

TEST_F(BadCheckpointTest, TiedModelDropsADifferingLmHeadWithAWarning) {
  std::string dir = Write([](auto* t) { SetFloat(&t->at("lm_head.weight"), 0, 123.0f); });
  // The same weights under the embedded model's tied naming.
  const std::vector<uint8_t> config_bytes = ReadFile(dir + "/config.json");
  std::string config(config_bytes.begin(), config_bytes.end());
  const std::string untied = "\"tie_word_embeddings\": false";
  ASSERT_NE(config.find(untied), std::string::npos);
  config.replace(config.find(untied), untied.size(), "\"tie_word_embeddings\": true");
  WriteFile(dir + "/config.json", config);

  std::vector<std::string> warnings;
  SetLogSink([&](LogLevel level, const std::string& message) {
    if (level == LogLevel::kWarn) warnings.push_back(message);
  });
  const Checkpoint c = LoadCheckpoint(dir);
  SetLogSink(nullptr);
  EXPECT_EQ(c.weights.count("lm_head.weight"), 0u);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_THAT(warnings[0], ::testing::HasSubstr("\"lm_head.weight\" differs from \"backbone.embedding.weight\""));
}

TEST_F(BadCheckpointTest, UntiedModelNeedsLmHead) {
  const std::string dir = Write([](auto* t) { t->erase("lm_head.weight"); });
  ExpectError([&] { LoadCheckpoint(dir); }, ErrorKind::kDataLoss,
              {weights_file(), "missing tensor \"lm_head.weight\" (expected shape [104, 40])"});
}

TEST_F(BadCheckpointTest, TruncatedSafetensors) {
  const std::string dir = Write([](auto*) {});
  std::vector<uint8_t> bytes = ReadFile(weights_file());
  bytes.resize(bytes.size() - 100);
  WriteFile(weights_file(), bytes);
  ExpectError([&] { LoadCheckpoint(dir); }, ErrorKind::kDataLoss, {weights_file(), "file truncated"});
}

TEST(CheckpointTest, TruncatedPytorchBin) {
  ScratchDir dir;
  CopyDir(Fixture(kStateSpaces), dir.path());
  std::vector<uint8_t> bytes = ReadFile(dir / "pytorch_model.bin");
  bytes.resize(bytes.size() - 1000);
  WriteFile(dir / "pytorch_model.bin", bytes);
  ExpectError([&] { LoadCheckpoint(dir.path()); }, ErrorKind::kDataLoss, {dir / "pytorch_model.bin"});
}

TEST(CheckpointTest, PytorchBinWithPythonScalars) {
  ScratchDir dir;
  CopyDir(Fixture(kStateSpaces), dir.path());
  std::map<std::string, StateValue> state;
  for (auto& [key, tensor] : LoadCheckpoint(Fixture(kStateSpaces)).weights) state.emplace(key, tensor);
  state.emplace("some_scale", 0.5);
  state.emplace("some_name", std::string("x"));
  WriteTorchStateDict(dir / "pytorch_model.bin", state);
  EXPECT_EQ(LoadCheckpoint(dir.path()).weights.size(), state.size() - 2);
}

TEST(CheckpointTest, MissingShard) {
  ScratchDir dir;
  CopyDir(Fixture(kSharded), dir.path());
  fs::remove(dir / "model-00002-of-00003.safetensors");
  ExpectError([&] { LoadCheckpoint(dir.path()); }, ErrorKind::kNotFound,
              {dir / "model.safetensors.index.json", "shard \"model-00002-of-00003.safetensors\"", "not found"});
}

TEST(CheckpointTest, IndexedTensorMissingFromItsShard) {
  ScratchDir dir;
  CopyDir(Fixture(kSharded), dir.path());
  const std::string shard = dir / "model-00003-of-00003.safetensors";
  auto tensors = ReadSafetensors(shard);
  ASSERT_FALSE(tensors.empty());
  const std::string key = tensors.begin()->first;
  tensors.erase(tensors.begin());
  WriteSafetensors(shard, tensors);
  ExpectError([&] { LoadCheckpoint(dir.path()); }, ErrorKind::kDataLoss,
              {shard + ": missing tensor \"" + key + "\"", "model.safetensors.index.json"});
}

TEST(CheckpointTest, IndexNamingAFileElsewhere) {
  ScratchDir dir;
  CopyDir(Fixture(kSharded), dir.path());
  WriteFile(dir / "model.safetensors.index.json", std::string(R"({"weight_map": {"a": "../../etc/passwd"}})"));
  ExpectError([&] { LoadCheckpoint(dir.path()); }, ErrorKind::kDataLoss,
              {dir / "model.safetensors.index.json", "\"../../etc/passwd\"", "not a file in the checkpoint folder"});
}

TEST(CheckpointTest, MissingFolderConfigOrWeights) {
  ScratchDir dir;
  ExpectError([&] { LoadCheckpoint(dir / "absent"); }, ErrorKind::kNotFound, {dir / "absent", "not found"});
  fs::copy_file(Fixture(kStateSpaces + "/pytorch_model.bin"), dir / "pytorch_model.bin");
  ExpectError([&] { LoadCheckpoint(dir.path()); }, ErrorKind::kNotFound, {dir.path(), "no config.json"});
  fs::remove(dir / "pytorch_model.bin");
  fs::copy_file(Fixture(kStateSpaces + "/config.json"), dir / "config.json");
  ExpectError([&] { LoadCheckpoint(dir.path()); }, ErrorKind::kNotFound,
              {dir.path(), "model.safetensors", "model.safetensors.index.json", "pytorch_model.bin"});
}

TEST(CheckpointTest, QuambaCheckpointHasNoFpWeights) {
  ScratchDir dir;
  WriteFile(dir / "config.json", std::string(R"({"d_model": 768, "n_layer": 24, "vocab_size": 50277,
      "ssm_cfg": {"layer": "W8A8QMamba"}, "tie_embeddings": false})"));
  ExpectError([&] { LoadCheckpoint(dir.path()); }, ErrorKind::kFailedPrecondition,
              {dir.path(), "quantized", "W8A8QMamba", "no FP weights"});
}

}  // namespace
}  // namespace layerscope
