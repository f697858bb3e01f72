// Error localization (core/analysis/localization.h) on the embedded model: invariants that fail when a stage is run
// on the wrong input, with the wrong quantization or the wrong arithmetic, and the conv1d stage against an fp64
// computation written here from MODES.md §2.3 step 3.
#include "core/analysis/localization.h"

#include <c10/core/InferenceMode.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <tuple>
#include <vector>

#include "core/data/byte_samples.h"
#include "core/model/mamba_model.h"
#include "core/quant/quantized_mamba.h"
#include "tests/core/model/test_util.h"

namespace layerscope {
namespace {

using testing_util::ExpectError;

class LocalizationTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    model_ = ResidentModel::Load(ResidentModel::EmbeddedModelDir(), "cpu").release();
    samples_ = new std::vector<std::vector<int32_t>>(
        ByteSamples(ReadTextFile(ResidentModel::EmbeddedModelDir() + "/eval.txt"), 2, 96));
  }
  static void TearDownTestSuite() {
    delete model_;
    delete samples_;
  }

  static CompareRequest Request(const std::string& reference, const std::vector<std::string>& modes) {
    CompareRequest request;
    request.reference = *FindBuiltinMode(reference);
    for (const std::string& mode : modes) request.modes.push_back(*FindBuiltinMode(mode));
    for (int i = 0; i < model_->info().config.n_layer; ++i) request.layers.push_back(i);
    request.samples = *samples_;
    request.batch_size = 1;
    return request;
  }

  static ModeLocalization LocalizeOne(const std::string& reference, const std::string& mode) {
    std::vector<ModeLocalization> result = Localize(*model_, Request(reference, {mode}), nullptr);
    EXPECT_EQ(result.size(), 1u);
    EXPECT_EQ(result[0].mode, mode);
    EXPECT_EQ(result[0].layers.size(), static_cast<size_t>(model_->info().config.n_layer));
    return result[0];
  }

  static ResidentModel* model_;
  static std::vector<std::vector<int32_t>>* samples_;
};
ResidentModel* LocalizationTest::model_ = nullptr;
std::vector<std::vector<int32_t>>* LocalizationTest::samples_ = nullptr;

const std::vector<std::string> kStages = {"norm",    "in_proj", "conv1d",   "x_proj",
                                          "dt_proj", "ssm",     "hadamard", "out_proj"};

// The mode as its own reference: every stage fed its own (dequantized, un-rotated) captures requantizes them to the
// same codes and computes the same output, so nothing is isolated and nothing differs in the full run.
TEST_F(LocalizationTest, ModeAgainstItselfIsZeroEverywhere) {
  for (const char* mode : {"0", "2-4"}) {
    const ModeLocalization result = LocalizeOne(mode, mode);
    for (const LayerLocalization& layer : result.layers) {
      ASSERT_EQ(layer.stages.size(), kStages.size());
      for (size_t s = 0; s < kStages.size(); ++s) {
        EXPECT_EQ(layer.stages[s].stage, kStages[s]);
        EXPECT_EQ(layer.stages[s].isolated, 0.0) << mode << " layer " << layer.layer << " " << kStages[s];
        EXPECT_EQ(layer.stages[s].full, 0.0) << mode << " layer " << layer.layer << " " << kStages[s];
      }
    }
  }
}

// Two modes that differ in one stage's fields: fed the other mode's activations, every other stage adds exactly
// nothing, and the differing stage adds something. 2-1 vs 0: only the scan's arithmetic; 2-4 vs 2-2: only the conv's
// output (fp32 instead of the grid; x_proj's requantized input and the scan's u then agree with 2-2's).
TEST_F(LocalizationTest, OnlyTheStageWhoseFieldsDifferAddsError) {
  const std::vector<std::tuple<std::string, std::string, std::string>> cases = {{"0", "2-1", "ssm"},
                                                                                {"2-2", "2-4", "conv1d"}};
  for (const auto& [reference, mode, differing] : cases) {
    const ModeLocalization result = LocalizeOne(reference, mode);
    for (const LayerLocalization& layer : result.layers) {
      for (const StageError& stage : layer.stages) {
        if (stage.stage == differing) {
          EXPECT_GT(stage.isolated, 0.0) << mode << " vs " << reference << " layer " << layer.layer;
        } else {
          EXPECT_EQ(stage.isolated, 0.0) << mode << " vs " << reference << " layer " << layer.layer << " "
                                         << stage.stage;
        }
      }
      EXPECT_EQ(layer.stages[layer.born].stage, differing);
    }
  }
}

// Against fp32, mode 0's isolated conv1d error equals an fp64 computation of the stage from its definition
// (MODES.md §2.3 step 3) on fp32's conv1d input, and its full error equals the relative MSE of the two runs'
// conv1d outputs.
TEST_F(LocalizationTest, IsolatedConv1dMatchesADirectComputation) {
  const ModeLocalization result = LocalizeOne("fp32", "0");
  c10::InferenceMode inference;
  const std::vector<int> layers = {0, static_cast<int>(model_->info().config.n_layer) - 1};
  const std::vector<CapturePoint> points = {CapturePoint::kConv1dInput, CapturePoint::kConv1dOutput};
  const Captures fp32 = model_->Run(*FindBuiltinMode("fp32"), *samples_, layers, points, false);
  const Captures mode0 = model_->Run(*FindBuiltinMode("0"), *samples_, layers, points, false);
  for (int layer : layers) {
    const QuantizedLayer& l = model_->quantized_model()->weights().layers[layer];
    const at::Tensor x = ToTensor(fp32.tensors.at({layer, CapturePoint::kConv1dInput})).to(at::kDouble);
    const at::Tensor ref = ToTensor(fp32.tensors.at({layer, CapturePoint::kConv1dOutput})).to(at::kDouble);
    const at::Tensor w = l.conv_weight.to(at::kCPU).to(at::kDouble);
    const at::Tensor b = l.conv_bias.to(at::kCPU).to(at::kDouble);
    const int64_t B = x.size(0), L = x.size(1), E = x.size(2), K = w.size(1);
    // Input: in_proj's RNE quantization with s_xz (at::round rounds half to even); output: the conv's RHAZ
    // (std::round rounds half away from zero).
    const at::Tensor xq = at::clamp(at::round(x / double(l.conv_input_scale)), -128, 127);
    auto xa = xq.accessor<double, 3>();
    auto wa = w.accessor<double, 2>();
    auto ba = b.accessor<double, 1>();
    auto ra = ref.accessor<double, 3>();
    double sum_d2 = 0, sum_r2 = 0;
    for (int64_t s = 0; s < B; ++s) {
      for (int64_t t = 0; t < L; ++t) {
        for (int64_t e = 0; e < E; ++e) {
          double acc = 0;
          for (int64_t k = 0; k < K; ++k) {
            const int64_t src = t - K + 1 + k;
            if (src >= 0) acc += wa[e][k] * xa[s][src][e];
          }
          const double v =
              double(l.conv_weight_scale) * double(l.conv_input_scale) * acc + double(l.conv_bias_scale) * ba[e];
          const double silu = v / (1 + std::exp(-v));
          const double q = std::max(-128.0, std::min(127.0, std::round(silu / double(l.conv_output_scale))));
          const double d = q * double(l.conv_output_scale) - ra[s][t][e];
          sum_d2 += d * d;
          sum_r2 += ra[s][t][e] * ra[s][t][e];
        }
      }
    }
    const double n = static_cast<double>(B * L * E);
    const double expected = (sum_d2 / n) / (sum_r2 / n + 1e-8);
    const StageError& conv = result.layers[layer].stages[2];
    ASSERT_EQ(conv.stage, "conv1d");
    // fp64 here, fp32 in the op: a SiLU value at a rounding boundary may land one code apart.
    EXPECT_NEAR(conv.isolated, expected, 1e-3 * expected) << "layer " << layer;
    EXPECT_GT(conv.isolated, 0.0);

    const at::Tensor m = ToTensor(mode0.tensors.at({layer, CapturePoint::kConv1dOutput})).to(at::kDouble);
    const double full = ((m - ref).square().mean() / (ref.square().mean() + 1e-8)).item<double>();
    EXPECT_NEAR(conv.full, full, 1e-9 * full) << "layer " << layer;
  }
}

// Mode 0 against fp32: every stage quantizes something, so every isolated error is positive, and no stage alone
// adds more than the full run shows after the norm (where the errors of the earlier layers come in).
TEST_F(LocalizationTest, QuantizedModeAgainstFp32) {
  const ModeLocalization result = LocalizeOne("fp32", "0");
  for (const LayerLocalization& layer : result.layers) {
    for (const StageError& stage : layer.stages) {
      EXPECT_GT(stage.isolated, 0.0) << "layer " << layer.layer << " " << stage.stage;
      EXPECT_GT(stage.full, 0.0) << "layer " << layer.layer << " " << stage.stage;
      EXPECT_TRUE(std::isfinite(stage.isolated) && std::isfinite(stage.full));
    }
    std::printf("layer %d:", layer.layer);
    for (const StageError& stage : layer.stages) {
      std::printf(" %s %.3e/%.3e", stage.stage.c_str(), stage.isolated, stage.full);
    }
    std::printf("; born %s, grows %s\n", layer.stages[layer.born].stage.c_str(),
                layer.stages[layer.grows].stage.c_str());
  }
  // Same request, same machine: bit-identical.
  const ModeLocalization again = LocalizeOne("fp32", "0");
  for (size_t i = 0; i < result.layers.size(); ++i) {
    for (size_t s = 0; s < kStages.size(); ++s) {
      EXPECT_EQ(result.layers[i].stages[s].isolated, again.layers[i].stages[s].isolated);
      EXPECT_EQ(result.layers[i].stages[s].full, again.layers[i].stages[s].full);
    }
  }
}

TEST(MarkBornAndGrowsTest, PicksTheLargestIsolatedAndTheLargestGrowth) {
  LayerLocalization layer;
  // full: 0.5, 0.6, 0.62, 0.9, 0.95: growths (from the second stage) 0.1, 0.02, 0.28, 0.05.
  const double isolated[] = {0.01, 0.03, 0.2, 0.2, 0.05};
  const double full[] = {0.5, 0.6, 0.62, 0.9, 0.95};
  for (int i = 0; i < 5; ++i)
    layer.stages.push_back({"s" + std::to_string(i), CapturePoint::kMixerInput, isolated[i], full[i]});
  MarkBornAndGrows(layer);
  EXPECT_EQ(layer.born, 2);  // the first of two equal largest
  EXPECT_EQ(layer.grows, 3);
}

TEST_F(LocalizationTest, FloatModesAreRefused) {
  ExpectError(
      [&] {
        Localize(*model_, Request("fp32", {"0", "fp16"}), nullptr);
      },
      ErrorKind::kInvalidArgument, {"modes[1]", "\"fp16\" is a float mode"});
}

}  // namespace
}  // namespace layerscope
