// TwoModesRequest: a small comparison of the embedded model for tests of ResidentModel::Compare.
#pragma once

#include <cstdint>
#include <vector>

#include "core/compare/resident_model.h"

namespace layerscope {

constexpr int kTwoModesSamples = 3;
constexpr int kTwoModesSeqLen = 48;

// kTwoModesSamples (3) samples of kTwoModesSeqLen (48) tokens in two batches (2 + 1), fp16 and bf16 against fp32, at
// the first and last layers, a d_model point (mixer_output) and a d_inner point (ssm_output): 8 rows.
inline CompareRequest TwoModesRequest(const ResidentModel& model) {
  CompareRequest request;
  request.reference = *FindBuiltinMode("fp32");
  request.modes = {*FindBuiltinMode("fp16"), *FindBuiltinMode("bf16")};
  request.layers = {0, static_cast<int>(model.info().config.n_layer) - 1};
  request.points = {CapturePoint::kMixerOutput, CapturePoint::kSsmOutput};
  for (int s = 0; s < kTwoModesSamples; ++s) {
    std::vector<int32_t> ids;
    for (int t = 0; t < kTwoModesSeqLen; ++t) ids.push_back((s * 37 + t * 5) % 256);
    request.samples.push_back(ids);
  }
  request.batch_size = 2;
  return request;
}

}  // namespace layerscope
