// FloatMamba: the FP Mamba-1 forward (../shared/docs/MODES.md §1) in one precision on one device, with named
// capture points. Internal to the core library (LibTorch types); ResidentModel is the public face.
//
// Precision. fp32 computes in fp32. fp16 and bf16 mean: weights rounded to that type, and every stage's output
// (norm, in_proj, conv1d+SiLU, x_proj, dt_proj, scan output, out_proj, logits) rounded to that type, while the
// residual stream, the RMSNorm statistics, softplus and the scan state stay fp32 (as in the reference
// implementation with residual_in_fp32). On CUDA the stages run in the type itself (cuBLAS/cuDNN accumulate in
// fp32); on the CPU, where LibTorch lacks half-precision kernels, each stage computes in fp32 and its output is
// rounded to the type: the same values up to the accumulation order inside one op.
#pragma once

#include <ATen/ATen.h>

#include <map>
#include <utility>
#include <vector>

#include "core/capture/capture_point.h"
#include "core/model/checkpoint.h"
#include "core/modes/mode_spec.h"

namespace layerscope {

// Which captures one forward keeps; the forward fills `tensors` ([B, L, C] fp32 on the model's device).
class CaptureSink {
 public:
  CaptureSink(const std::vector<int>& layers, const std::vector<CapturePoint>& points, bool keep_logits);

  bool Wants(int layer, CapturePoint point) const;
  // Keeps `value` as fp32 when wanted, with how it was brought to the FP basis and units (MODES.md §4).
  void Put(int layer, CapturePoint point, const at::Tensor& value, const CaptureDescription& description);
  // The forward can stop after this layer when no logits are wanted (-1: run every layer).
  int LastLayerNeeded(int n_layer) const;
  bool keep_logits() const { return keep_logits_; }

  std::map<std::pair<int, CapturePoint>, at::Tensor> tensors;
  std::map<std::pair<int, CapturePoint>, CaptureDescription> descriptions;
  at::Tensor logits;

 private:
  std::vector<bool> layer_wanted_;
  std::vector<bool> point_wanted_;
  int max_layer_ = -1;
  bool keep_logits_;
};

struct FloatLayerWeights {
  at::Tensor norm, in_proj, in_proj_bias, conv_weight, conv_bias, x_proj, dt_proj, dt_bias, A, D, out_proj,
      out_proj_bias;
};

class FloatMamba {
 public:
  FloatMamba(const Checkpoint& checkpoint, at::Device device, FloatPrecision precision);

  // The same model on `device`: the same weight values, held in that device's compute type (exact: the rounded
  // weights are representable in both the storage type and fp32).
  FloatMamba CopyTo(at::Device device) const;

  // ids: [B, L] int64 on the model's device.
  void Forward(const at::Tensor& ids, CaptureSink& sink) const;

 private:
  // A stage output in the mode's precision (see the file comment).
  at::Tensor Round(const at::Tensor& t) const;

  MambaConfig config_;
  at::Device device_;
  CaptureDescription described_;  // every capture: the precision's values, FP basis
  at::ScalarType storage_;        // fp32, fp16 or bf16
  at::ScalarType compute_;        // the type ops run in: storage_ on CUDA, fp32 on the CPU
  at::Tensor embedding_, norm_f_, lm_head_;
  std::vector<FloatLayerWeights> layers_;
};

// HostTensor <-> at::Tensor (copies).
at::Tensor ToTensor(const HostTensor& host);
HostTensor ToHost(const at::Tensor& tensor);

}  // namespace layerscope
