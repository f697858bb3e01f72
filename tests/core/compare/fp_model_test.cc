// The FP model against transformers' MambaForCausalLM (fixtures made by tests/fixtures/hf/make_fixtures.py on the
// GPU machine): per-layer residual stream, mixer outputs and logits, relative L2 error per tensor.
#include <gtest/gtest.h>

#include <cmath>
#include <ostream>
#include <string>

#include "core/compare/resident_model.h"
#include "core/model/safetensors_reader.h"
#include "tests/core/compare/hf_reference.h"

namespace layerscope {
namespace {

// These tests check the FP model; quantizing (calibration) at load would only cost time.
const LoadOptions kFloatOnly{/*quantize=*/false};

const std::string kFixtures = std::string(LAYERSCOPE_SOURCE_DIR) + "/tests/fixtures/hf/";

struct Case {
  const char* model_dir;  // relative to the source tree
  const char* fixture;
  const char* mode;
  double tolerance;
};

// gtest prints parameters in test names and failures; without this it dumps their bytes.
void PrintTo(const Case& c, std::ostream* os) { *os << c.model_dir << " vs " << c.fixture << " in " << c.mode; }

class FpModelVsTransformers : public ::testing::TestWithParam<Case> {};

TEST_P(FpModelVsTransformers, EveryLayerAndLogits) {
  const Case c = GetParam();
  const auto model = ResidentModel::Load(std::string(LAYERSCOPE_SOURCE_DIR) + "/" + c.model_dir, "cpu", kFloatOnly);
  const auto reference = ReadSafetensors(kFixtures + c.fixture);
  const int n_layer = static_cast<int>(model->info().config.n_layer);
  std::vector<int> layers;
  for (int i = 0; i < n_layer; ++i) layers.push_back(i);
  const Captures got = model->Run(*FindBuiltinMode(c.mode), SamplesOf(reference.at("input_ids")), layers,
                                  {CapturePoint::kMixerOutput, CapturePoint::kBlockOutput}, /*keep_logits=*/true);
  for (int i = 0; i < n_layer; ++i) {
    const std::string p = "layers." + std::to_string(i) + ".";
    EXPECT_LE(RelativeL2(got.tensors.at({i, CapturePoint::kBlockOutput}), reference.at(p + "block_output")),
              c.tolerance)
        << "layer " << i << " block_output";
    EXPECT_LE(RelativeL2(got.tensors.at({i, CapturePoint::kMixerOutput}), reference.at(p + "mixer_output")),
              c.tolerance)
        << "layer " << i << " mixer_output";
  }
  EXPECT_LE(RelativeL2(got.logits, reference.at("logits")), c.tolerance) << "logits";
}

// fp32: the bound (1e-5). fp16: 1e-2. bf16 keeps 8 significant bits (3 fewer than fp16): 5e-2.
INSTANTIATE_TEST_SUITE_P(Fixtures, FpModelVsTransformers,
                         ::testing::Values(Case{"core/model/embedded", "embedded.safetensors", "fp32", 1e-5},
                                           Case{"core/model/embedded", "embedded.safetensors", "fp16", 1e-2},
                                           Case{"core/model/embedded", "embedded.safetensors", "bf16", 5e-2},
                                           Case{"tests/fixtures/hf/random-ss", "random.safetensors", "fp32", 1e-5},
                                           Case{"tests/fixtures/hf/random-ss", "random.safetensors", "fp16", 1e-2},
                                           Case{"tests/fixtures/hf/random-hf-sharded", "random.safetensors", "fp32",
                                                1e-5}),
                         [](const auto& info) {
                           std::string name =
                               std::string(info.param.fixture).substr(0, std::string(info.param.fixture).find('.'));
                           return name + "_" + info.param.mode + "_" + std::to_string(info.index);
                         });

// On the CPU, fp16 means every stage output is an fp16 value (see core/model/mamba_model.h): converting each
// capture to fp16 and back must change nothing.
TEST(FpModelPrecision, Fp16CapturesAreFp16Values) {
  const auto model = ResidentModel::Load(ResidentModel::EmbeddedModelDir(), "cpu", kFloatOnly);
  std::vector<CapturePoint> points;
  for (const auto& info : AllCapturePoints()) {
    if (info.point != CapturePoint::kBlockOutput && info.point != CapturePoint::kDt) points.push_back(info.point);
  }
  const Captures got = model->Run(*FindBuiltinMode("fp16"), {{72, 101, 108, 108, 111, 32, 119}}, {0, 5}, points, true);
  ASSERT_EQ(got.tensors.size(), points.size() * 2);
  for (const auto& [key, tensor] : got.tensors) {
    const auto values = tensor.ToDoubles();
    int not_fp16 = 0;
    for (double v : values) {
      int exponent = 0;
      const double mantissa = std::frexp(v, &exponent);
      // An fp16 normal has 11 significant bits: mantissa * 2^11 is an integer.
      if (v != 0 && std::fabs(v) >= 6.103515625e-05 && std::ldexp(mantissa, 11) != std::round(std::ldexp(mantissa, 11)))
        ++not_fp16;
    }
    EXPECT_EQ(not_fp16, 0) << "layer " << key.first << " " << CapturePointName(key.second);
  }
}

// Same request, same machine: bit-identical captures.
TEST(FpModelDeterminism, RepeatedRunsAreBitIdentical) {
  const auto model = ResidentModel::Load(ResidentModel::EmbeddedModelDir(), "cpu", kFloatOnly);
  const std::vector<std::vector<int32_t>> samples = {{1, 2, 3, 4, 5, 6, 7, 8, 9}, {9, 8, 7, 6, 5, 4, 3, 2, 1}};
  const auto a = model->Run(*FindBuiltinMode("fp32"), samples, {0, 3, 5}, DefaultCapturePoints(), true);
  const auto b = model->Run(*FindBuiltinMode("fp32"), samples, {0, 3, 5}, DefaultCapturePoints(), true);
  for (const auto& [key, tensor] : a.tensors) EXPECT_EQ(tensor.bytes, b.tensors.at(key).bytes);
  EXPECT_EQ(a.logits.bytes, b.logits.bytes);
}

// A sample run alone and inside a batch gives the same values (batches are independent).
TEST(FpModelBatching, BatchOfTwoEqualsTwoSingles) {
  const auto model = ResidentModel::Load(ResidentModel::EmbeddedModelDir(), "cpu", kFloatOnly);
  const std::vector<int32_t> first = {10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110};
  const std::vector<int32_t> second = {5, 15, 25, 35, 45, 55, 65, 75, 85, 95, 105};
  const auto both = model->Run(*FindBuiltinMode("fp32"), {first, second}, {5}, {CapturePoint::kSsmOutput}, false);
  const auto one = model->Run(*FindBuiltinMode("fp32"), {second}, {5}, {CapturePoint::kSsmOutput}, false);
  const auto all = both.tensors.at({5, CapturePoint::kSsmOutput}).ToDoubles();
  const auto solo = one.tensors.at({5, CapturePoint::kSsmOutput}).ToDoubles();
  ASSERT_EQ(all.size(), 2 * solo.size());
  for (size_t i = 0; i < solo.size(); ++i) EXPECT_NEAR(all[solo.size() + i], solo[i], 1e-5 * (1 + std::fabs(solo[i])));
}

}  // namespace
}  // namespace layerscope
