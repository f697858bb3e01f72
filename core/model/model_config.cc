#include "core/model/model_config.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/util/error.h"

namespace layerscope {
namespace {

using nlohmann::json;

// Larger dimensions are certainly a corrupt file, and the bound keeps every product of two shapes far from
// overflowing int64.
constexpr int64_t kMaxDimension = int64_t{1} << 24;

// Reads the fields of one JSON object, each error naming the file and the field ("ssm_cfg.d_state").
class Fields {
 public:
  Fields(const std::string& file, const json& object, const std::string& prefix = "")
      : file_(file), object_(object), prefix_(prefix) {}

  bool Has(const std::string& name) const { return object_.contains(name) && !object_.at(name).is_null(); }

  int64_t PositiveInt(const std::string& name) const {
    const json& v = Get(name);
    if (!v.is_number_integer() || v.get<int64_t>() <= 0) Wrong(name, v, "a positive integer");
    if (v.get<int64_t>() > kMaxDimension) Wrong(name, v, "at most " + std::to_string(kMaxDimension));
    return v.get<int64_t>();
  }
  int64_t PositiveInt(const std::string& name, int64_t fallback) const {
    return Has(name) ? PositiveInt(name) : fallback;
  }

  // A field that, when present, must be 0 or an empty list: what selects a model family not supported here.
  void RequireUnset(const std::string& name, const std::string& why) const {
    if (!Has(name)) return;
    const json& v = Get(name);
    if ((v.is_number_integer() && v.get<int64_t>() == 0) || (v.is_array() && v.empty())) return;
    if (!v.is_number_integer() && !v.is_array()) Wrong(name, v, "an integer or a list");
    Fail(ErrorKind::kFailedPrecondition, name, "is set: " + why);
  }

  double PositiveNumber(const std::string& name, double fallback) const {
    if (!Has(name)) return fallback;
    const json& v = Get(name);
    if (!v.is_number() || !(v.get<double>() > 0)) Wrong(name, v, "a positive number");
    return v.get<double>();
  }

  bool Bool(const std::string& name, bool fallback) const {
    if (!Has(name)) return fallback;
    const json& v = Get(name);
    if (!v.is_boolean()) Wrong(name, v, "true or false");
    return v.get<bool>();
  }

  std::string String(const std::string& name, const std::string& fallback) const {
    if (!Has(name)) return fallback;
    const json& v = Get(name);
    if (!v.is_string()) Wrong(name, v, "a string");
    return v.get<std::string>();
  }

  // dt_rank / time_step_rank: "auto" (ceil(d_model / 16)) or a positive integer.
  int64_t Rank(const std::string& name, int64_t d_model) const {
    if (!Has(name) || (Get(name).is_string() && Get(name).get<std::string>() == "auto")) return (d_model + 15) / 16;
    if (!Get(name).is_number_integer()) Wrong(name, Get(name), "\"auto\" or a positive integer");
    return PositiveInt(name);
  }

  // An optional nested object; an empty one when absent.
  Fields Object(const std::string& name, json* storage) const {
    if (Has(name)) {
      if (!Get(name).is_object()) Wrong(name, Get(name), "an object");
      *storage = Get(name);
    } else {
      *storage = json::object();
    }
    return Fields(file_, *storage, prefix_ + name + ".");
  }

  [[noreturn]] void Fail(ErrorKind kind, const std::string& name, const std::string& what) const {
    throw Error(kind, file_ + ": field \"" + prefix_ + name + "\" " + what);
  }

 private:
  const json& Get(const std::string& name) const {
    if (!Has(name)) Fail(ErrorKind::kDataLoss, name, "is missing");
    return object_.at(name);
  }

  // Scalars are quoted as written; containers only by their type (dumping a deeply nested value would recurse).
  [[noreturn]] void Wrong(const std::string& name, const json& v, const std::string& expected) const {
    std::string got = v.is_structured() ? std::string("an ") + v.type_name() : v.dump();
    if (got.size() > 64) got = got.substr(0, 61) + "...";
    Fail(ErrorKind::kDataLoss, name, "must be " + expected + ", got " + got);
  }

  const std::string& file_;
  const json& object_;
  const std::string prefix_;
};

MambaConfig ReadStateSpaces(const Fields& top) {
  MambaConfig c;
  c.layout = CheckpointLayout::kStateSpaces;
  c.d_model = top.PositiveInt("d_model");
  c.n_layer = top.PositiveInt("n_layer");
  c.vocab_size = top.PositiveInt("vocab_size");
  // mamba_ssm pads the embedding's rows up to a multiple (8 by default): the checkpoint holds the padded size.
  const int64_t multiple = top.PositiveInt("pad_vocab_size_multiple", 8);
  c.vocab_size += (multiple - c.vocab_size % multiple) % multiple;
  if (!top.Bool("rms_norm", true)) {
    top.Fail(ErrorKind::kFailedPrecondition, "rms_norm", "is false: only RMSNorm Mamba models are supported");
  }
  top.RequireUnset("d_intermediate", "Mamba blocks with an MLP are not supported");
  top.RequireUnset("attn_layer_idx", "hybrid models with attention layers are not supported");
  c.residual_in_fp32 = top.Bool("residual_in_fp32", true);
  c.tie_embeddings = top.Bool("tie_embeddings", true);

  json ssm_storage;
  const Fields ssm = top.Object("ssm_cfg", &ssm_storage);
  const std::string layer = ssm.String("layer", "Mamba1");
  if (layer == "W8A8QMamba") {
    c.layout = CheckpointLayout::kQuamba;
  } else if (layer != "Mamba1") {
    ssm.Fail(ErrorKind::kFailedPrecondition, "layer",
             "is \"" + layer + "\": only Mamba1 and Quamba's W8A8QMamba layers are supported");
  }
  c.d_state = ssm.PositiveInt("d_state", 16);
  c.d_conv = ssm.PositiveInt("d_conv", 4);
  c.d_inner = ssm.PositiveInt("expand", 2) * c.d_model;
  c.dt_rank = ssm.Rank("dt_rank", c.d_model);
  c.conv_bias = ssm.Bool("conv_bias", true);
  c.proj_bias = ssm.Bool("bias", false);
  return c;
}

MambaConfig ReadTransformers(const Fields& top) {
  MambaConfig c;
  c.layout = CheckpointLayout::kTransformers;
  const std::string model_type = top.String("model_type", "mamba");
  if (model_type != "mamba") {
    top.Fail(ErrorKind::kFailedPrecondition, "model_type",
             "is \"" + model_type + "\": only Mamba-1 (\"mamba\") models are supported");
  }
  c.d_model = top.PositiveInt("hidden_size");
  c.n_layer = top.PositiveInt("num_hidden_layers");
  c.vocab_size = top.PositiveInt("vocab_size");  // transformers stores the embedding's row count as is
  c.d_state = top.PositiveInt("state_size", 16);
  c.d_conv = top.PositiveInt("conv_kernel", 4);
  const int64_t expanded = top.PositiveInt("expand", 2) * c.d_model;
  c.d_inner = top.PositiveInt("intermediate_size", expanded);
  if (c.d_inner != expanded) {
    top.Fail(ErrorKind::kDataLoss, "intermediate_size",
             "is " + std::to_string(c.d_inner) + " but expand * hidden_size is " + std::to_string(expanded));
  }
  c.dt_rank = top.Rank("time_step_rank", c.d_model);
  c.norm_eps = top.PositiveNumber("layer_norm_epsilon", 1e-5);
  c.residual_in_fp32 = top.Bool("residual_in_fp32", true);
  c.tie_embeddings = top.Bool("tie_word_embeddings", true);
  c.conv_bias = top.Bool("use_conv_bias", true);
  c.proj_bias = top.Bool("use_bias", false);
  return c;
}

}  // namespace

const char* CheckpointLayoutName(CheckpointLayout layout) {
  switch (layout) {
    case CheckpointLayout::kStateSpaces: return "state-spaces";
    case CheckpointLayout::kTransformers: return "transformers";
    case CheckpointLayout::kQuamba: return "quamba";
  }
  return "?";
}

MambaConfig ReadMambaConfig(const std::string& config_json_path) {
  std::ifstream in(config_json_path, std::ios::binary);
  if (!in) throw Error(ErrorKind::kNotFound, config_json_path + ": cannot open");
  std::stringstream text;
  text << in.rdbuf();
  json root;
  try {
    root = json::parse(text.str());
  } catch (const json::exception& e) {
    throw Error(ErrorKind::kDataLoss, config_json_path + ": not valid JSON: " + e.what());
  }
  if (!root.is_object()) throw Error(ErrorKind::kDataLoss, config_json_path + ": not a JSON object");

  const Fields top(config_json_path, root);
  if (top.Has("d_model")) return ReadStateSpaces(top);
  if (top.Has("hidden_size")) return ReadTransformers(top);
  throw Error(ErrorKind::kDataLoss, config_json_path +
                                        ": neither field \"d_model\" (state-spaces naming) nor \"hidden_size\" "
                                        "(transformers naming) is present");
}

}  // namespace layerscope
