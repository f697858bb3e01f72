// Quamba's offline transforms (../shared/docs/MODES.md §2.1): the FP model rewritten so that its residual stream
// lives in a Hadamard-rotated basis and every RMSNorm weight is folded into the linear that follows it. The
// result is still an FP Mamba-1 model with the same function (norm weights all one, lm_head untied), so it is
// returned as a Checkpoint that FloatMamba runs as is: calibration runs it in fp16, and a test checks that it
// gives the FP model's logits. Internal to the core library.
#pragma once

#include <ATen/ATen.h>

#include "core/model/checkpoint.h"

namespace layerscope {

// Ĥ(d): the normalized Hadamard matrix of the recipe, fp64 [d, d], symmetric and its own inverse. Throws
// Error(kFailedPrecondition) when no Hadamard matrix of that size is known.
at::Tensor NormalizedHadamard(int64_t d);

// The transformed model, fp32 weights under the canonical keys (computed in fp64, rounded once):
// embedding rows · Ĥ(d_model); in_proj · diag(γ) · Ĥ(d_model); out_proj ← Ĥ(d_model) · out_proj;
// lm_head · diag(γ_f) · Ĥ(d_model); every norm weight 1. out_proj's input side (· Ĥ(d_inner), which pairs with
// the run-time Hadamard of the SSM output) is left to the quantization (RotateOutProjInput), so that this model
// computes the FP model's function without a run-time Hadamard. Throws Error(kFailedPrecondition) for models the recipe
// does not cover (in_proj/out_proj bias, a size without a Hadamard matrix).
Checkpoint RotateAndFuse(const Checkpoint& checkpoint);

// out_proj's input-side rotation: w · Ĥ(d_inner) (fp32 in, fp64 arithmetic, fp32 out).
at::Tensor RotateOutProjInput(const at::Tensor& out_proj);

}  // namespace layerscope
