#include "core/quant/quamba_checkpoint.h"

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/model/torch_pickle_reader.h"
#include "core/util/error.h"

namespace layerscope {
namespace {

namespace fs = std::filesystem;
using State = std::map<std::string, StateValue>;

// Reads the values of one state dict, each checked against what MODES.md §2.4 says the key holds.
class StateReader {
 public:
  StateReader(const std::string& file, State state) : file_(file), state_(std::move(state)) {}

  const StateValue& Find(const std::string& key) const {
    auto it = state_.find(key);
    if (it == state_.end()) throw Error(ErrorKind::kNotFound, file_ + ": missing key \"" + key + "\"");
    return it->second;
  }

  // A scale: a Python float, or a one-element fp32/fp16/fp64 tensor. Positive and finite.
  float Scale(const std::string& key) const {
    const StateValue& value = Find(key);
    double v = 0;
    if (const double* d = std::get_if<double>(&value)) {
      v = *d;
    } else if (const HostTensor* t = std::get_if<HostTensor>(&value);
               t && t->numel() == 1 &&
               (t->dtype == DType::kF32 || t->dtype == DType::kF16 || t->dtype == DType::kF64)) {
      v = t->ToDoubles()[0];
    } else {
      throw Error(ErrorKind::kDataLoss, file_ + ": key \"" + key + "\" should be a float scale (a Python float or a " +
                                            "one-element float tensor)");
    }
    if (!std::isfinite(v) || v <= 0) {
      throw Error(ErrorKind::kDataLoss,
                  file_ + ": key \"" + key + "\" is " + std::to_string(v) + ": a scale must be positive and finite");
    }
    return static_cast<float>(v);
  }

  // A tensor of `dtype` whose shape is one of `shapes`; returns it and which shape matched.
  at::Tensor Tensor(const std::string& key, DType dtype, const std::vector<std::vector<int64_t>>& shapes,
                    size_t* matched = nullptr) const {
    const HostTensor* t = std::get_if<HostTensor>(&Find(key));
    if (t == nullptr) throw Error(ErrorKind::kDataLoss, file_ + ": key \"" + key + "\" should be a tensor");
    if (t->dtype != dtype) {
      throw Error(ErrorKind::kDataLoss,
                  file_ + ": key \"" + key + "\" has dtype " + DTypeName(t->dtype) + ", expected " + DTypeName(dtype));
    }
    for (size_t i = 0; i < shapes.size(); ++i) {
      if (t->shape == shapes[i]) {
        if (matched) *matched = i;
        return ToTensor(*t);
      }
    }
    std::string expected;
    for (const auto& shape : shapes) expected += (expected.empty() ? "" : " or ") + ShapeString(shape);
    throw Error(ErrorKind::kDataLoss,
                file_ + ": key \"" + key + "\" has shape " + t->ShapeString() + ", expected " + expected);
  }

  // A W8A8 linear [out, in], stored transposed ([in, out], as published) or not.
  QuantLinear Linear(const std::string& prefix, int64_t out, int64_t in) const {
    QuantLinear linear;
    size_t matched = 0;
    linear.weight = Tensor(prefix + ".weight", DType::kI8, {{in, out}, {out, in}}, &matched);
    if (matched == 0) linear.weight = linear.weight.t().contiguous();
    linear.a = Scale(prefix + ".a");
    linear.b = Scale(prefix + ".b");
    linear.alpha = Scale(prefix + ".alpha");
    return linear;
  }

 private:
  std::string file_;
  State state_;
};

HostTensor ScalarTensor(float value, std::vector<int64_t> shape) { return HostTensor::FromFloats(shape, {value}); }

void PutLinear(const std::string& prefix, const QuantLinear& linear, State* state) {
  (*state)[prefix + ".weight"] = ToHost(linear.weight.t().contiguous());
  (*state)[prefix + ".a"] = ScalarTensor(linear.a, {1, 1});
  (*state)[prefix + ".b"] = ScalarTensor(linear.b, {1, 1});
  (*state)[prefix + ".alpha"] = static_cast<double>(linear.alpha);
}

}  // namespace

QuantizedWeights LoadQuambaCheckpoint(const std::string& dir) {
  const std::string config_path = (fs::path(dir) / "config.json").string();
  const std::string bin = (fs::path(dir) / "pytorch_model.bin").string();
  QuantizedWeights w;
  w.config = ReadMambaConfig(config_path);
  if (w.config.layout != CheckpointLayout::kQuamba) {
    throw Error(ErrorKind::kFailedPrecondition,
                config_path + ": not a Quamba checkpoint (ssm_cfg.layer is not \"W8A8QMamba\")");
  }
  const MambaConfig& c = w.config;
  const StateReader s(bin, ReadTorchStateDict(bin));
  const int64_t D = c.d_model, E = c.d_inner, N = c.d_state, K = c.d_conv, R = c.dt_rank;
  w.embedding = s.Tensor("backbone.embedding.weight", DType::kF16, {{c.vocab_size, D}});
  w.norm_f = s.Tensor("backbone.norm_f.weight", DType::kF16, {{D}});
  w.lm_head = s.Tensor("lm_head.weight", DType::kF16, {{c.vocab_size, D}});
  for (int64_t i = 0; i < c.n_layer; ++i) {
    const std::string p = "backbone.layers." + std::to_string(i) + ".";
    QuantizedLayer l;
    // The norm weight was folded into in_proj (MODES.md §2.1); the quantized norm computes without one.
    if (!at::equal(s.Tensor(p + "norm.weight", DType::kF16, {{D}}), at::ones({D}, at::kHalf))) {
      throw Error(ErrorKind::kDataLoss,
                  bin + ": key \"" + p + "norm.weight\" is not all ones: Quamba folds it into in_proj");
    }
    l.norm_output_scale = s.Scale(p + "norm.output_scale");
    l.in_proj = s.Linear(p + "mixer.in_proj", 2 * E, D);
    l.conv_weight = s.Tensor(p + "mixer.conv1d.weight", DType::kI8, {{E, K}, {E, 1, K}}).reshape({E, K});
    l.conv_bias = s.Tensor(p + "mixer.conv1d.bias", DType::kI8, {{E}});
    l.conv_weight_scale = s.Scale(p + "mixer.conv1d.weight_scale");
    l.conv_bias_scale = s.Scale(p + "mixer.conv1d.bias_scale");
    l.conv_input_scale = s.Scale(p + "mixer.conv1d.input_scale");
    l.conv_output_scale = s.Scale(p + "mixer.conv1d.output_scale");
    l.x_proj = s.Linear(p + "mixer.x_proj", R + 2 * N, E);
    l.dt_proj = s.Linear(p + "mixer.dt_proj", E, R);
    const std::string scan = p + "mixer.selective_scan.";
    l.A_log = s.Tensor(scan + "A_log", DType::kI8, {{E, N}});
    l.D = s.Tensor(scan + "D", DType::kI8, {{E}});
    l.dt_bias = s.Tensor(scan + "dt_bias", DType::kI8, {{E}});
    l.A_scale = s.Scale(scan + "A_scale");
    l.D_scale = s.Scale(scan + "D_scale");
    l.dt_bias_scale = s.Scale(scan + "dt_bias_scale");
    l.u_scale = s.Scale(scan + "u_scale");
    l.dt_scale = s.Scale(scan + "dt_scale");
    l.B_scale = s.Scale(scan + "B_scale");
    l.C_scale = s.Scale(scan + "C_scale");
    l.z_scale = s.Scale(scan + "z_scale");
    l.ssm_state_scale = s.Scale(scan + "ssm_state_scale");
    l.had_scale = s.Scale(p + "mixer.had.x_H_scale");
    l.out_proj = s.Linear(p + "mixer.out_proj", D, E);
    w.layers.push_back(std::move(l));
  }
  return w;
}

void SaveQuambaCheckpoint(const QuantizedWeights& w, const std::string& dir) {
  const MambaConfig& c = w.config;
  if (c.d_inner % c.d_model != 0) {
    throw Error(ErrorKind::kFailedPrecondition, "d_inner " + std::to_string(c.d_inner) +
                                                    " is no multiple of d_model: config.json has only ssm_cfg.expand");
  }
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw Error(ErrorKind::kFailedPrecondition, dir + ": cannot create the folder: " + ec.message());

  State state;
  auto host = [](const at::Tensor& t) { return ToHost(t.to(at::kCPU).contiguous()); };
  state["backbone.embedding.weight"] = host(w.embedding);
  state["backbone.norm_f.weight"] = host(w.norm_f);
  state["lm_head.weight"] = host(w.lm_head);
  for (size_t i = 0; i < w.layers.size(); ++i) {
    const QuantizedLayer& l = w.layers[i];
    const std::string p = "backbone.layers." + std::to_string(i) + ".";
    state[p + "norm.weight"] = host(at::ones({c.d_model}, at::kHalf));
    state[p + "norm.output_scale"] = static_cast<double>(l.norm_output_scale);
    PutLinear(p + "mixer.in_proj", l.in_proj, &state);
    state[p + "mixer.conv1d.weight"] = host(l.conv_weight);
    state[p + "mixer.conv1d.bias"] = host(l.conv_bias);
    state[p + "mixer.conv1d.weight_scale"] = static_cast<double>(l.conv_weight_scale);
    state[p + "mixer.conv1d.bias_scale"] = static_cast<double>(l.conv_bias_scale);
    state[p + "mixer.conv1d.input_scale"] = static_cast<double>(l.conv_input_scale);
    state[p + "mixer.conv1d.output_scale"] = static_cast<double>(l.conv_output_scale);
    PutLinear(p + "mixer.x_proj", l.x_proj, &state);
    PutLinear(p + "mixer.dt_proj", l.dt_proj, &state);
    const std::string scan = p + "mixer.selective_scan.";
    state[scan + "A_log"] = host(l.A_log);
    state[scan + "D"] = host(l.D);
    state[scan + "dt_bias"] = host(l.dt_bias);
    const std::pair<const char*, float> scan_scales[] = {
        {"A_scale", l.A_scale}, {"D_scale", l.D_scale},   {"dt_bias_scale", l.dt_bias_scale},
        {"u_scale", l.u_scale}, {"dt_scale", l.dt_scale}, {"B_scale", l.B_scale},
        {"C_scale", l.C_scale}, {"z_scale", l.z_scale},   {"ssm_state_scale", l.ssm_state_scale}};
    for (const auto& [name, value] : scan_scales) state[scan + name] = ScalarTensor(value, {});
    state[p + "mixer.had.x_H_scale"] = static_cast<double>(l.had_scale);
    PutLinear(p + "mixer.out_proj", l.out_proj, &state);
  }

  // state-spaces fields plus the Quamba layer types (MODES.md §2.4); pad multiple 1 keeps vocab_size the row count.
  const nlohmann::json config = {
      {"d_model", c.d_model},
      {"n_layer", c.n_layer},
      {"vocab_size", c.vocab_size},
      {"pad_vocab_size_multiple", 1},
      {"ssm_cfg",
       {{"layer", "W8A8QMamba"},
        {"d_state", c.d_state},
        {"d_conv", c.d_conv},
        {"expand", c.d_inner / c.d_model},
        {"dt_rank", c.dt_rank},
        {"conv_bias", true},
        {"bias", false}}},
      {"rms_norm", true},
      {"norm_cfg", {{"norm", "QRMSNorm"}}},
      {"embedding_cfg", {{"layer", "HadEmbedding"}}},
      {"lm_head_cfg", {{"layer", "HadLinear"}}},
      {"residual_in_fp32", c.residual_in_fp32},
      {"fused_add_norm", true},
      {"tie_embeddings", false},
  };
  WriteTorchStateDict((fs::path(dir) / "pytorch_model.bin").string(), state);
  const std::string config_path = (fs::path(dir) / "config.json").string();
  OutputFile out(config_path);
  const std::string text = config.dump(2) + "\n";
  out.Write(text.data(), text.size());
  out.Commit();
}

}  // namespace layerscope
