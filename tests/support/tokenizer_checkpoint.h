// A small Mamba checkpoint whose vocabulary fits the committed GPT-NeoX-style tokenizer fixture
// (tests/fixtures/tokenizer/neox.json), so that tests can run real text through the server: the transformers-layout
// fixture tests/fixtures/hf/random-hf-sharded (3 layers, d_model 40) with its 104-row embedding and lm_head widened to
// kTokenizerCheckpointVocab rows. Written at test time, so no binary checkpoint is committed for it.
#pragma once

#include <cstdint>
#include <string>

namespace layerscope {

inline constexpr int64_t kTokenizerCheckpointVocab = 896;

// The fixture tokenizer's path.
std::string FixtureTokenizerPath();

// Writes config.json and model.safetensors into `dir` (created); returns `dir`. The rows beyond the fixture's 104
// are its rows scaled by deterministic factors in [0.5, 1.5), so that every token id has its own embedding.
std::string WriteTokenizerCheckpoint(const std::string& dir);

}  // namespace layerscope
