// MambaConfig: the shape of a Mamba-1 model, read from a checkpoint's config.json in either naming.
#pragma once

#include <cstdint>
#include <string>

namespace layerscope {

enum class CheckpointLayout {
  kStateSpaces,   // config.json with d_model, n_layer, ssm_cfg, ...; keys backbone.embedding.weight
  kTransformers,  // config.json with hidden_size, num_hidden_layers, ...; keys backbone.embeddings.weight
  kQuamba,        // state-spaces naming with ssm_cfg.layer == "W8A8QMamba": int8 weights and scales
};

const char* CheckpointLayoutName(CheckpointLayout layout);

struct MambaConfig {
  CheckpointLayout layout = CheckpointLayout::kStateSpaces;
  int64_t d_model = 0;
  int64_t n_layer = 0;
  int64_t vocab_size = 0;  // padded to pad_vocab_size_multiple for state-spaces layouts: the embedding's rows
  int64_t d_inner = 0;     // expand * d_model unless given (transformers: intermediate_size)
  int64_t d_state = 16;
  int64_t d_conv = 4;
  int64_t dt_rank = 0;  // "auto" = ceil(d_model / 16)
  double norm_eps = 1e-5;
  bool residual_in_fp32 = true;
  bool tie_embeddings = true;
  bool conv_bias = true;
  bool proj_bias = false;  // in_proj / out_proj bias (transformers: use_bias)
};

// Reads and validates config.json. Throws Error naming the file and the field at fault (missing, wrong type,
// non-positive, unsupported value such as rms_norm=false).
MambaConfig ReadMambaConfig(const std::string& config_json_path);

}  // namespace layerscope
