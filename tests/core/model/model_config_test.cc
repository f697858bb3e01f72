#include "core/model/model_config.h"

#include <gtest/gtest.h>

#include "tests/core/model/test_util.h"

namespace layerscope {
namespace {

using testing_util::ExpectError;
using testing_util::Fixture;
using testing_util::ScratchDir;
using testing_util::WriteFile;

// Writes `json` as config.json in a scratch folder and reads it.
class ConfigTest : public ::testing::Test {
 protected:
  MambaConfig Read(const std::string& json) {
    WriteFile(path(), json);
    return ReadMambaConfig(path());
  }
  std::string path() const { return dir_ / "config.json"; }

 private:
  ScratchDir dir_;
};

TEST_F(ConfigTest, TransformersNamingFromFixture) {
  const MambaConfig c = ReadMambaConfig(Fixture("tests/fixtures/hf/random-hf-sharded/config.json"));
  EXPECT_EQ(c.layout, CheckpointLayout::kTransformers);
  EXPECT_STREQ(CheckpointLayoutName(c.layout), "transformers");
  EXPECT_EQ(c.d_model, 40);
  EXPECT_EQ(c.n_layer, 3);
  EXPECT_EQ(c.vocab_size, 104);
  EXPECT_EQ(c.d_inner, 80);
  EXPECT_EQ(c.d_state, 8);
  EXPECT_EQ(c.d_conv, 4);
  EXPECT_EQ(c.dt_rank, 3);
  EXPECT_DOUBLE_EQ(c.norm_eps, 1e-5);
  EXPECT_TRUE(c.residual_in_fp32);
  EXPECT_FALSE(c.tie_embeddings);
  EXPECT_TRUE(c.conv_bias);
  EXPECT_FALSE(c.proj_bias);

  const MambaConfig embedded = ReadMambaConfig(Fixture("core/model/embedded/config.json"));
  EXPECT_EQ(embedded.d_model, 192);
  EXPECT_EQ(embedded.n_layer, 6);
  EXPECT_EQ(embedded.d_inner, 384);
  EXPECT_EQ(embedded.dt_rank, 12);
  EXPECT_EQ(embedded.vocab_size, 256);
  EXPECT_TRUE(embedded.tie_embeddings);
}

TEST_F(ConfigTest, StateSpacesNamingFromFixture) {
  const MambaConfig c = ReadMambaConfig(Fixture("tests/fixtures/hf/random-ss/config.json"));
  EXPECT_EQ(c.layout, CheckpointLayout::kStateSpaces);
  EXPECT_STREQ(CheckpointLayoutName(c.layout), "state-spaces");
  EXPECT_EQ(c.d_model, 40);
  EXPECT_EQ(c.n_layer, 3);
  EXPECT_EQ(c.vocab_size, 104);  // 100 padded to a multiple of 8
  EXPECT_EQ(c.d_inner, 80);
  EXPECT_EQ(c.d_state, 8);
  EXPECT_EQ(c.d_conv, 4);
  EXPECT_EQ(c.dt_rank, 3);
  EXPECT_FALSE(c.tie_embeddings);
}

TEST_F(ConfigTest, StateSpacesDefaultsAndDtRankAuto) {
  // mamba-130m's published config.json.
  const MambaConfig c = Read(R"({"d_model": 768, "n_layer": 24, "vocab_size": 50277, "ssm_cfg": {},
      "rms_norm": true, "residual_in_fp32": true, "fused_add_norm": true, "pad_vocab_size_multiple": 8})");
  EXPECT_EQ(c.vocab_size, 50280);
  EXPECT_EQ(c.d_inner, 1536);
  EXPECT_EQ(c.d_state, 16);
  EXPECT_EQ(c.d_conv, 4);
  EXPECT_EQ(c.dt_rank, 48);
  EXPECT_TRUE(c.tie_embeddings);

  EXPECT_EQ(Read(R"({"d_model": 40, "n_layer": 1, "vocab_size": 8, "ssm_cfg": {"dt_rank": "auto"}})").dt_rank, 3);
  EXPECT_EQ(Read(R"({"hidden_size": 33, "num_hidden_layers": 1, "vocab_size": 8, "time_step_rank": "auto"})").dt_rank,
            3);
  EXPECT_EQ(Read(R"({"d_model": 64, "n_layer": 1, "vocab_size": 8, "ssm_cfg": {"dt_rank": 7}})").dt_rank, 7);
}

TEST_F(ConfigTest, VocabPadding) {
  EXPECT_EQ(Read(R"({"d_model": 8, "n_layer": 1, "vocab_size": 100, "pad_vocab_size_multiple": 16})").vocab_size, 112);
  EXPECT_EQ(Read(R"({"d_model": 8, "n_layer": 1, "vocab_size": 96, "pad_vocab_size_multiple": 16})").vocab_size, 96);
  EXPECT_EQ(Read(R"({"d_model": 8, "n_layer": 1, "vocab_size": 101, "pad_vocab_size_multiple": 1})").vocab_size, 101);
  // transformers stores the padded count itself.
  EXPECT_EQ(Read(R"({"hidden_size": 8, "num_hidden_layers": 1, "vocab_size": 50277})").vocab_size, 50277);
}

TEST_F(ConfigTest, QuambaDetected) {
  const MambaConfig c = Read(R"({"d_model": 768, "n_layer": 24, "vocab_size": 50277,
      "ssm_cfg": {"layer": "W8A8QMamba", "d_state": 16}, "norm_cfg": {"norm": "QRMSNorm"}, "tie_embeddings": false})");
  EXPECT_EQ(c.layout, CheckpointLayout::kQuamba);
  EXPECT_STREQ(CheckpointLayoutName(c.layout), "quamba");
  EXPECT_FALSE(c.tie_embeddings);
}

TEST_F(ConfigTest, MissingField) {
  ExpectError([&] { Read(R"({"d_model": 768, "vocab_size": 50277})"); }, ErrorKind::kDataLoss,
              {path() + ": field \"n_layer\" is missing"});
  ExpectError([&] { Read(R"({"hidden_size": 768, "num_hidden_layers": 2})"); }, ErrorKind::kDataLoss,
              {path(), "\"vocab_size\" is missing"});
  ExpectError([&] { Read(R"({"n_layer": 2, "vocab_size": 10})"); }, ErrorKind::kDataLoss,
              {path(), "\"d_model\"", "\"hidden_size\""});
}

TEST_F(ConfigTest, WrongTypes) {
  ExpectError([&] { Read(R"({"d_model": "abc", "n_layer": 2, "vocab_size": 10})"); }, ErrorKind::kDataLoss,
              {"config.json: field \"d_model\" must be a positive integer, got \"abc\""});
  ExpectError([&] { Read(R"({"d_model": 8, "n_layer": 0, "vocab_size": 10})"); }, ErrorKind::kDataLoss,
              {path(), "\"n_layer\" must be a positive integer, got 0"});
  ExpectError([&] { Read(R"({"d_model": 8, "n_layer": 2.5, "vocab_size": 10})"); }, ErrorKind::kDataLoss,
              {"\"n_layer\"", "got 2.5"});
  ExpectError([&] { Read(R"({"d_model": 8, "n_layer": 2, "vocab_size": 10, "ssm_cfg": {"d_state": [16]}})"); },
              ErrorKind::kDataLoss, {"\"ssm_cfg.d_state\" must be a positive integer, got an array"});
  ExpectError([&] { Read(R"({"d_model": 8, "n_layer": 2, "vocab_size": 10, "ssm_cfg": {"dt_rank": "big"}})"); },
              ErrorKind::kDataLoss, {"\"ssm_cfg.dt_rank\" must be \"auto\" or a positive integer, got \"big\""});
  ExpectError([&] { Read(R"({"d_model": 8, "n_layer": 2, "vocab_size": 10, "ssm_cfg": 3})"); }, ErrorKind::kDataLoss,
              {"\"ssm_cfg\" must be an object"});
  ExpectError([&] { Read(R"({"hidden_size": 8, "num_hidden_layers": 2, "vocab_size": 10, "use_bias": "no"})"); },
              ErrorKind::kDataLoss, {"\"use_bias\" must be true or false, got \"no\""});
  ExpectError(
      [&] { Read(R"({"hidden_size": 8, "num_hidden_layers": 2, "vocab_size": 10, "layer_norm_epsilon": -1})"); },
      ErrorKind::kDataLoss, {"\"layer_norm_epsilon\" must be a positive number"});
  ExpectError([&] { Read(R"({"hidden_size": 8, "num_hidden_layers": 2, "vocab_size": 10, "intermediate_size": 20})"); },
              ErrorKind::kDataLoss, {"\"intermediate_size\" is 20 but expand * hidden_size is 16"});
  ExpectError([&] { Read(R"({"d_model": 99999999999, "n_layer": 2, "vocab_size": 10})"); }, ErrorKind::kDataLoss,
              {"\"d_model\" must be at most"});
}

TEST_F(ConfigTest, UnsupportedModels) {
  ExpectError([&] { Read(R"({"d_model": 8, "n_layer": 2, "vocab_size": 10, "ssm_cfg": {"layer": "Mamba2"}})"); },
              ErrorKind::kFailedPrecondition, {path(), "\"ssm_cfg.layer\" is \"Mamba2\""});
  ExpectError([&] { Read(R"({"d_model": 8, "n_layer": 2, "vocab_size": 10, "rms_norm": false})"); },
              ErrorKind::kFailedPrecondition, {"\"rms_norm\""});
  ExpectError([&] { Read(R"({"d_model": 8, "n_layer": 2, "vocab_size": 10, "attn_layer_idx": [1]})"); },
              ErrorKind::kFailedPrecondition, {"\"attn_layer_idx\""});
  EXPECT_EQ(
      Read(R"({"d_model": 8, "n_layer": 2, "vocab_size": 10, "d_intermediate": 0, "attn_layer_idx": []})").n_layer, 2);
  ExpectError([&] { Read(R"({"hidden_size": 8, "num_hidden_layers": 2, "vocab_size": 10, "model_type": "mamba2"})"); },
              ErrorKind::kFailedPrecondition, {"\"model_type\" is \"mamba2\""});
}

TEST_F(ConfigTest, FileErrors) {
  ExpectError([&] { ReadMambaConfig(path()); }, ErrorKind::kNotFound, {path()});
  ExpectError([&] { Read("{\"d_model\": "); }, ErrorKind::kDataLoss, {path(), "not valid JSON"});
  ExpectError([&] { Read("[1]"); }, ErrorKind::kDataLoss, {path(), "not a JSON object"});
}

}  // namespace
}  // namespace layerscope
