// Quamba checkpoints (../shared/docs/MODES.md §2.4): config.json plus pytorch_model.bin (a torch.save state dict
// mixing int8/fp16/fp32 tensors and Python floats), in the layout the published W8A8 Mamba checkpoints use. Loading
// one gives the quantized model only (it holds no FP weights); saving writes this server's quantization in the
// same layout, and loading what was saved reproduces the model bit for bit.
#pragma once

#include <string>

#include "core/quant/quantized_mamba.h"

namespace layerscope {

// Reads `dir`/config.json (ssm_cfg.layer "W8A8QMamba") and `dir`/pytorch_model.bin onto the CPU. Linear weights
// are accepted as published ([in, out]: a transposed view of the row-major [out, in] matrix) or as [out, in].
// Throws Error naming the file and the key at fault: kNotFound (missing file or key), kDataLoss (wrong dtype,
// shape, non-finite or non-positive scale, truncated file), kFailedPrecondition (not a Quamba config).
QuantizedWeights LoadQuambaCheckpoint(const std::string& dir);

// Writes config.json and pytorch_model.bin into `dir` (created if absent), linear weights transposed as published.
// γ (kept for captures) is not part of the layout and is not saved.
void SaveQuambaCheckpoint(const QuantizedWeights& weights, const std::string& dir);

}  // namespace layerscope
