// Helpers for comparing the C++ model with reference activations recorded from transformers'
// MambaForCausalLM (safetensors files written by tests/fixtures/hf/make_fixtures.py).
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "core/model/host_tensor.h"

namespace layerscope {

// ||got - want|| / ||want|| over every element.
inline double RelativeL2(const HostTensor& got, const HostTensor& want) {
  EXPECT_EQ(got.shape, want.shape);
  const auto g = got.ToDoubles(), w = want.ToDoubles();
  double num = 0, den = 0;
  for (size_t i = 0; i < g.size() && i < w.size(); ++i) {
    num += (g[i] - w[i]) * (g[i] - w[i]);
    den += w[i] * w[i];
  }
  return std::sqrt(num / den);
}

// The fixture's `input_ids` [batch, seqlen] as samples.
inline std::vector<std::vector<int32_t>> SamplesOf(const HostTensor& ids) {
  const auto values = ids.ToDoubles();
  std::vector<std::vector<int32_t>> samples(ids.shape[0]);
  for (int64_t b = 0; b < ids.shape[0]; ++b) {
    for (int64_t t = 0; t < ids.shape[1]; ++t) samples[b].push_back(static_cast<int32_t>(values[b * ids.shape[1] + t]));
  }
  return samples;
}

}  // namespace layerscope
