// GPU machine only: the FP model at the mamba-130m shape (random weights written by
// tests/fixtures/hf/make_fixtures.py mamba130m, with transformers' activations recorded on CUDA) loaded from the
// same checkpoint, run on the CPU and on CUDA, fp32 and fp16. LAYERSCOPE_MAMBA130M_DIR names the folder.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <ostream>
#include <string>

#include "core/compare/resident_model.h"
#include "core/model/safetensors_reader.h"
#include "tests/core/compare/hf_reference.h"

namespace layerscope {
namespace {

struct Case {
  const char* device;
  const char* mode;
  double tolerance;  // the bounds: 1e-5 fp32, 1e-2 fp16
};

// gtest prints parameters in test names and failures; without this it dumps their bytes.
void PrintTo(const Case& c, std::ostream* os) { *os << c.device << " " << c.mode; }

class Mamba130mVsTransformers : public ::testing::TestWithParam<Case> {};

TEST_P(Mamba130mVsTransformers, EveryLayerAndLogits) {
  const char* dir = std::getenv("LAYERSCOPE_MAMBA130M_DIR");
  if (dir == nullptr) GTEST_SKIP() << "LAYERSCOPE_MAMBA130M_DIR is not set";
  const Case c = GetParam();
  const std::string mode = c.mode;
  const auto reference = ReadSafetensors(std::string(dir) + "/reference-" + mode + ".safetensors");
  const auto model = ResidentModel::Load(std::string(dir) + "/model", c.device, LoadOptions{/*quantize=*/false});
  const int n_layer = static_cast<int>(model->info().config.n_layer);
  std::vector<int> layers;
  for (int i = 0; i < n_layer; ++i) layers.push_back(i);
  const Captures got = model->Run(*FindBuiltinMode(mode), SamplesOf(reference.at("input_ids")), layers,
                                  {CapturePoint::kBlockOutput}, /*keep_logits=*/true);
  double worst = 0;
  int worst_layer = -1;
  for (int i = 0; i < n_layer; ++i) {
    const double err = RelativeL2(got.tensors.at({i, CapturePoint::kBlockOutput}),
                                  reference.at("layers." + std::to_string(i) + ".block_output"));
    EXPECT_LE(err, c.tolerance) << "layer " << i;
    if (err > worst) worst = err, worst_layer = i;
  }
  const double logits = RelativeL2(got.logits, reference.at("logits"));
  EXPECT_LE(logits, c.tolerance) << "logits";
  std::printf("mamba130m %s %s: worst layer relative L2 %.3e (layer %d), logits %.3e\n", c.device, c.mode, worst,
              worst_layer, logits);
}

INSTANTIATE_TEST_SUITE_P(Devices, Mamba130mVsTransformers,
                         ::testing::Values(Case{"cpu", "fp32", 1e-5}, Case{"cuda", "fp32", 1e-5},
                                           Case{"cpu", "fp16", 1e-2}, Case{"cuda", "fp16", 1e-2}),
                         [](const auto& info) { return std::string(info.param.device) + "_" + info.param.mode; });

}  // namespace
}  // namespace layerscope
