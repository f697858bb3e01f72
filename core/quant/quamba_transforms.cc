#include "core/quant/quamba_transforms.h"

#include <string>

#include "core/model/mamba_model.h"
#include "core/quant/hadamard.h"
#include "core/util/error.h"

namespace layerscope {

namespace {

void RequireHadamard(int64_t d) {
  if (!HadamardSupported(d)) {
    throw Error(ErrorKind::kFailedPrecondition,
                "no Hadamard matrix of size " + std::to_string(d) +
                    " is known (MODES.md §2.1: 12·2^k, 20·2^k, 28·2^k or a power of two)");
  }
}

}  // namespace

at::Tensor NormalizedHadamard(int64_t d) {
  RequireHadamard(d);
  return HadamardMatrix(d, at::kDouble);
}

at::Tensor RotateOutProjInput(const at::Tensor& out_proj) {
  return at::matmul(out_proj.to(at::kDouble), NormalizedHadamard(out_proj.size(1))).to(at::kFloat);
}

Checkpoint RotateAndFuse(const Checkpoint& checkpoint) {
  const MambaConfig& c = checkpoint.config;
  if (c.proj_bias) {
    throw Error(ErrorKind::kFailedPrecondition,
                checkpoint.dir + ": in_proj/out_proj biases are not part of the Quamba recipe (MODES.md §2)");
  }
  const at::Tensor h_model = NormalizedHadamard(c.d_model);
  RequireHadamard(c.d_inner);  // the run-time Hadamard of the SSM output: refused before any work if unknown
  auto fp64 = [&](const std::string& key) { return ToTensor(checkpoint.weights.at(key)).to(at::kDouble); };

  Checkpoint out;
  out.dir = checkpoint.dir;
  out.weights_description = checkpoint.weights_description + ", rotated and norm-fused";
  out.config = checkpoint.config;
  out.config.tie_embeddings = false;
  auto put = [&](const std::string& key, const at::Tensor& value) {
    out.weights[key] = ToHost(value.to(at::kFloat).contiguous());
  };
  const at::Tensor ones = at::ones({c.d_model}, at::kDouble);

  const at::Tensor embedding = fp64("backbone.embedding.weight");
  put("backbone.embedding.weight", at::matmul(embedding, h_model));
  for (int64_t i = 0; i < c.n_layer; ++i) {
    const std::string p = "backbone.layers." + std::to_string(i) + ".";
    const at::Tensor gamma = fp64(p + "norm.weight");
    put(p + "norm.weight", ones);
    // x_in' = x_in·Ĥ (Ĥ orthogonal, so RMSNorm commutes with it); in_proj(x_in ⊙ γ) = x_in'·Ĥ·diag(γ)·Wᵀ.
    put(p + "mixer.in_proj.weight", at::matmul(fp64(p + "mixer.in_proj.weight") * gamma, h_model));
    // The output side only: h' = h·Ĥ(d_model) = y·(Ĥ(d_model)·W)ᵀ. The input side (Ĥ(d_inner), matched by the
    // run-time Hadamard of the SSM output) is QuantizeCheckpoint's: this model stays runnable as an FP model.
    put(p + "mixer.out_proj.weight", at::matmul(h_model, fp64(p + "mixer.out_proj.weight")));
    for (const char* key : {"mixer.conv1d.weight", "mixer.x_proj.weight", "mixer.dt_proj.weight", "mixer.dt_proj.bias",
                            "mixer.A_log", "mixer.D"}) {
      put(p + key, fp64(p + key));
    }
    if (c.conv_bias) put(p + "mixer.conv1d.bias", fp64(p + "mixer.conv1d.bias"));
  }
  put("backbone.norm_f.weight", ones);
  const at::Tensor lm_head = c.tie_embeddings ? embedding : fp64("lm_head.weight");
  put("lm_head.weight", at::matmul(lm_head * fp64("backbone.norm_f.weight"), h_model));
  return out;
}

}  // namespace layerscope
