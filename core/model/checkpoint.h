// Checkpoint: an FP Mamba-1 model's config and weights, loaded from a folder in any layout users have, validated
// and renamed to one canonical (state-spaces) key set.
#pragma once

#include <map>
#include <string>

#include "core/model/host_tensor.h"
#include "core/model/model_config.h"

namespace layerscope {

struct Checkpoint {
  std::string dir;
  std::string weights_description;  // e.g. "model.safetensors", "3 safetensors shards", "pytorch_model.bin"
  MambaConfig config;
  // Canonical keys: backbone.embedding.weight, backbone.layers.{i}.norm.weight,
  // backbone.layers.{i}.mixer.{in_proj.weight, conv1d.weight, conv1d.bias, x_proj.weight, dt_proj.weight,
  // dt_proj.bias, A_log, D, out_proj.weight} (+ in_proj.bias / out_proj.bias when config.proj_bias),
  // backbone.norm_f.weight, and lm_head.weight only when untied. Float dtypes (F32, F16, BF16) as stored.
  std::map<std::string, HostTensor> weights;
};

// Loads `dir`: config.json plus model.safetensors, model.safetensors.index.json (+ shards) or pytorch_model.bin.
// Every tensor is checked against the config (present, shape, float dtype, finite values). Throws Error naming
// the file, the key and what was expected.
Checkpoint LoadCheckpoint(const std::string& dir);

// The expected shape of each canonical key for a config (the table LoadCheckpoint checks against).
std::map<std::string, std::vector<int64_t>> ExpectedWeightShapes(const MambaConfig& config);

}  // namespace layerscope
