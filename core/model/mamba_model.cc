#include "core/model/mamba_model.h"

#include <cstring>

#include "core/util/error.h"
#include "kernels/selective_scan/selective_scan_op.h"

namespace layerscope {
namespace {

at::ScalarType ScalarTypeOf(DType dtype) {
  switch (dtype) {
    case DType::kF64: return at::kDouble;
    case DType::kF32: return at::kFloat;
    case DType::kF16: return at::kHalf;
    case DType::kBF16: return at::kBFloat16;
    case DType::kI64: return at::kLong;
    case DType::kI32: return at::kInt;
    case DType::kI16: return at::kShort;
    case DType::kI8: return at::kChar;
    case DType::kU8: return at::kByte;
    case DType::kBool: return at::kBool;
  }
  throw Error(ErrorKind::kInternal, "unknown dtype");
}

DType DTypeOf(at::ScalarType type) {
  switch (type) {
    case at::kDouble: return DType::kF64;
    case at::kFloat: return DType::kF32;
    case at::kHalf: return DType::kF16;
    case at::kBFloat16: return DType::kBF16;
    case at::kLong: return DType::kI64;
    case at::kInt: return DType::kI32;
    case at::kShort: return DType::kI16;
    case at::kChar: return DType::kI8;
    case at::kByte: return DType::kU8;
    case at::kBool: return DType::kBool;
    default: throw Error(ErrorKind::kInternal, std::string("no HostTensor dtype for ") + at::toString(type));
  }
}

at::ScalarType StorageType(FloatPrecision precision) {
  switch (precision) {
    case FloatPrecision::kFp32: return at::kFloat;
    case FloatPrecision::kFp16: return at::kHalf;
    case FloatPrecision::kBf16: return at::kBFloat16;
  }
  throw Error(ErrorKind::kInternal, "unknown precision");
}

}  // namespace

at::Tensor ToTensor(const HostTensor& host) {
  auto t = at::empty(host.shape, at::TensorOptions().dtype(ScalarTypeOf(host.dtype)));
  if (!host.bytes.empty()) std::memcpy(t.data_ptr(), host.bytes.data(), host.bytes.size());
  return t;
}

HostTensor ToHost(const at::Tensor& tensor) {
  const at::Tensor t = tensor.to(at::kCPU).contiguous();
  HostTensor host;
  host.dtype = DTypeOf(t.scalar_type());
  host.shape.assign(t.sizes().begin(), t.sizes().end());
  host.bytes.resize(t.numel() * t.element_size());
  if (!host.bytes.empty()) std::memcpy(host.bytes.data(), t.data_ptr(), host.bytes.size());
  return host;
}

CaptureSink::CaptureSink(const std::vector<int>& layers, const std::vector<CapturePoint>& points, bool keep_logits)
    : point_wanted_(AllCapturePoints().size(), false), keep_logits_(keep_logits) {
  for (int layer : layers) {
    if (layer < 0) throw Error(ErrorKind::kInternal, "negative layer index reached the model");
    if (static_cast<size_t>(layer) >= layer_wanted_.size()) layer_wanted_.resize(layer + 1, false);
    layer_wanted_[layer] = true;
    max_layer_ = std::max(max_layer_, layer);
  }
  for (CapturePoint point : points) point_wanted_[static_cast<size_t>(point)] = true;
}

bool CaptureSink::Wants(int layer, CapturePoint point) const {
  return static_cast<size_t>(layer) < layer_wanted_.size() && layer_wanted_[layer] &&
         point_wanted_[static_cast<size_t>(point)];
}

void CaptureSink::Put(int layer, CapturePoint point, const at::Tensor& value, const CaptureDescription& description) {
  if (!Wants(layer, point)) return;
  tensors[{layer, point}] = value.to(at::kFloat).contiguous();
  descriptions[{layer, point}] = description;
}

int CaptureSink::LastLayerNeeded(int n_layer) const { return keep_logits_ ? n_layer - 1 : max_layer_; }

FloatMamba::FloatMamba(const Checkpoint& checkpoint, at::Device device, FloatPrecision precision)
    : config_(checkpoint.config),
      device_(device),
      described_{FloatPrecisionName(precision)},
      storage_(StorageType(precision)),
      compute_(device.is_cuda() ? StorageType(precision) : at::kFloat) {
  auto weight = [&](const std::string& key) -> const HostTensor& {
    auto it = checkpoint.weights.find(key);
    if (it == checkpoint.weights.end()) {
      throw Error(ErrorKind::kInternal, checkpoint.dir + ": validated checkpoint lacks \"" + key + "\"");
    }
    return it->second;
  };
  // Weights in the mode's precision, held in the compute type (rounded first when they differ).
  auto rounded = [&](const std::string& key) {
    return ToTensor(weight(key)).to(storage_).to(compute_).to(device_).contiguous();
  };
  auto fp32 = [&](const std::string& key) { return ToTensor(weight(key)).to(at::kFloat).to(device_).contiguous(); };
  auto optional_rounded = [&](const std::string& key) {
    return checkpoint.weights.count(key) ? rounded(key) : at::Tensor();
  };

  embedding_ = rounded("backbone.embedding.weight");
  norm_f_ = fp32("backbone.norm_f.weight");
  lm_head_ = config_.tie_embeddings ? embedding_ : rounded("lm_head.weight");
  for (int64_t i = 0; i < config_.n_layer; ++i) {
    const std::string p = "backbone.layers." + std::to_string(i) + ".";
    FloatLayerWeights w;
    w.norm = fp32(p + "norm.weight");
    w.in_proj = rounded(p + "mixer.in_proj.weight");
    w.in_proj_bias = optional_rounded(p + "mixer.in_proj.bias");
    w.conv_weight = rounded(p + "mixer.conv1d.weight");  // [d_inner, 1, d_conv]: conv1d's grouped layout
    w.conv_bias = optional_rounded(p + "mixer.conv1d.bias");
    w.x_proj = rounded(p + "mixer.x_proj.weight");
    w.dt_proj = rounded(p + "mixer.dt_proj.weight");
    w.dt_bias = fp32(p + "mixer.dt_proj.bias");
    w.A = -at::exp(fp32(p + "mixer.A_log"));
    w.D = fp32(p + "mixer.D");
    w.out_proj = rounded(p + "mixer.out_proj.weight");
    w.out_proj_bias = optional_rounded(p + "mixer.out_proj.bias");
    layers_.push_back(std::move(w));
  }
}

FloatMamba FloatMamba::CopyTo(at::Device device) const {
  FloatMamba copy = *this;
  copy.device_ = device;
  copy.compute_ = device.is_cuda() ? storage_ : at::kFloat;
  auto rounded = [&](const at::Tensor& t) {
    return t.defined() ? t.to(device, copy.compute_).contiguous() : at::Tensor();
  };
  auto fp32 = [&](const at::Tensor& t) { return t.to(device).contiguous(); };
  copy.embedding_ = rounded(embedding_);
  copy.norm_f_ = fp32(norm_f_);
  copy.lm_head_ = config_.tie_embeddings ? copy.embedding_ : rounded(lm_head_);
  for (FloatLayerWeights& w : copy.layers_) {
    for (at::Tensor* t : {&w.in_proj, &w.in_proj_bias, &w.conv_weight, &w.conv_bias, &w.x_proj, &w.dt_proj, &w.out_proj,
                          &w.out_proj_bias}) {
      *t = rounded(*t);
    }
    for (at::Tensor* t : {&w.norm, &w.dt_bias, &w.A, &w.D}) *t = fp32(*t);
  }
  return copy;
}

at::Tensor FloatMamba::Round(const at::Tensor& t) const {
  if (storage_ == compute_) return t.to(compute_);
  return t.to(storage_).to(compute_);
}

void FloatMamba::Forward(const at::Tensor& ids, CaptureSink& sink) const {
  const int64_t batch = ids.size(0), seqlen = ids.size(1);
  const int64_t E = config_.d_inner, N = config_.d_state, R = config_.dt_rank;
  const int n_layer = static_cast<int>(config_.n_layer);
  const int last = sink.LastLayerNeeded(n_layer);

  at::Tensor h = embedding_.index_select(0, ids.reshape({-1})).view({batch, seqlen, config_.d_model});
  at::Tensor r;  // the residual stream, fp32
  for (int i = 0; i <= last; ++i) {
    const FloatLayerWeights& w = layers_[i];
    r = i == 0 ? h.to(at::kFloat) : r + h.to(at::kFloat);
    if (!config_.residual_in_fp32) r = r.to(storage_).to(at::kFloat);
    const at::Tensor normed = r * at::rsqrt(r.pow(2).mean(-1, /*keepdim=*/true) + config_.norm_eps) * w.norm;
    const at::Tensor x_in = Round(normed);
    sink.Put(i, CapturePoint::kMixerInput, x_in, described_);

    const at::Tensor xz = Round(at::linear(x_in, w.in_proj, w.in_proj_bias));
    sink.Put(i, CapturePoint::kInProjOutput, xz, described_);
    const at::Tensor x = xz.narrow(-1, 0, E);
    const at::Tensor z = xz.narrow(-1, E, E);
    sink.Put(i, CapturePoint::kConv1dInput, x, described_);

    // Causal depthwise conv: pad d_conv-1 on both sides and keep the first seqlen outputs.
    const int64_t k = w.conv_weight.size(-1);
    at::Tensor conv = at::conv1d(x.transpose(1, 2), w.conv_weight, w.conv_bias, /*stride=*/1, /*padding=*/k - 1,
                                 /*dilation=*/1, /*groups=*/E)
                          .narrow(-1, 0, seqlen);
    const at::Tensor u = Round(at::silu(conv).transpose(1, 2));
    sink.Put(i, CapturePoint::kConv1dOutput, u, described_);
    sink.Put(i, CapturePoint::kSsmInput, u, described_);

    const at::Tensor x_dbl = Round(at::linear(u, w.x_proj));
    sink.Put(i, CapturePoint::kXProjOutput, x_dbl, described_);
    const at::Tensor dt_low = x_dbl.narrow(-1, 0, R);
    const at::Tensor Bm = x_dbl.narrow(-1, R, N);
    const at::Tensor Cm = x_dbl.narrow(-1, R + N, N);
    // dt_proj without its bias in the mode's precision; bias and softplus in fp32, as the reference kernel does.
    const at::Tensor dt_raw = Round(at::linear(dt_low, w.dt_proj));
    const at::Tensor delta = at::softplus(dt_raw.to(at::kFloat) + w.dt_bias, /*beta=*/1, /*threshold=*/20);
    sink.Put(i, CapturePoint::kDt, delta, described_);

    const at::Tensor y = Round(SelectiveScan(u, delta, w.A, Bm, Cm, w.D, z));
    sink.Put(i, CapturePoint::kSsmOutput, y, described_);
    sink.Put(i, CapturePoint::kOutProjInput, y, described_);

    h = Round(at::linear(y, w.out_proj, w.out_proj_bias));
    sink.Put(i, CapturePoint::kMixerOutput, h, described_);
    if (sink.Wants(i, CapturePoint::kBlockOutput))
      sink.Put(i, CapturePoint::kBlockOutput, r + h.to(at::kFloat), described_);
  }
  if (!sink.keep_logits()) return;
  r = r + h.to(at::kFloat);
  const at::Tensor normed = Round(r * at::rsqrt(r.pow(2).mean(-1, true) + config_.norm_eps) * norm_f_);
  sink.logits = Round(at::linear(normed, lm_head_)).to(at::kFloat);
}

}  // namespace layerscope
