#include "core/model/checkpoint.h"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "core/model/safetensors_reader.h"
#include "core/model/torch_pickle_reader.h"
#include "core/util/error.h"
#include "core/util/log.h"

namespace layerscope {
namespace {

namespace fs = std::filesystem;

constexpr const char* kEmbedding = "backbone.embedding.weight";
constexpr const char* kTransformersEmbedding = "backbone.embeddings.weight";
constexpr const char* kLmHead = "lm_head.weight";
constexpr const char* kIndexName = "model.safetensors.index.json";

// The tensors of a checkpoint folder as stored, with the file each came from (for error messages).
struct Weights {
  std::string description;
  std::string main_file;  // what a missing tensor is reported against
  std::map<std::string, HostTensor> tensors;
  std::map<std::string, std::string> source;
};

std::string Join(const std::string& dir, const std::string& name) { return (fs::path(dir) / name).string(); }

bool Exists(const std::string& path) {
  std::error_code ec;
  return fs::exists(path, ec);
}

std::string Quoted(const std::set<std::string>& keys) {
  std::string s;
  for (const std::string& key : keys) s += (s.empty() ? "\"" : ", \"") + key + "\"";
  return s;
}

void AddFile(const std::string& path, std::map<std::string, HostTensor> tensors, Weights* weights) {
  for (auto& [key, tensor] : tensors) {
    weights->source[key] = path;
    weights->tensors[key] = std::move(tensor);
  }
}

// model.safetensors.index.json: {"weight_map": {key: shard file name}}; every shard must hold exactly its keys.
Weights ReadShards(const std::string& dir, const std::string& index_path) {
  std::ifstream in(index_path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  const auto fail = [&](const std::string& what) { throw Error(ErrorKind::kDataLoss, index_path + ": " + what); };
  nlohmann::json index;
  try {
    index = nlohmann::json::parse(text.str());
  } catch (const nlohmann::json::exception& e) {
    fail(std::string("not valid JSON: ") + e.what());
  }
  if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object()) {
    fail("no \"weight_map\" object");
  }
  std::map<std::string, std::set<std::string>> keys_by_shard;
  for (const auto& [key, shard] : index["weight_map"].items()) {
    if (!shard.is_string()) fail("weight_map[\"" + key + "\"] is not a file name");
    const std::string name = shard.get<std::string>();
    // Shards are files beside the index: a path elsewhere is a corrupt (or hostile) index.
    if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos) {
      fail("weight_map[\"" + key + "\"] names \"" + name + "\", not a file in the checkpoint folder");
    }
    keys_by_shard[name].insert(key);
  }
  if (keys_by_shard.empty()) fail("\"weight_map\" is empty");

  Weights weights;
  weights.description = std::to_string(keys_by_shard.size()) + " safetensors shards";
  weights.main_file = index_path;
  for (const auto& [name, keys] : keys_by_shard) {
    const std::string shard_path = Join(dir, name);
    if (!Exists(shard_path)) {
      throw Error(ErrorKind::kNotFound,
                  index_path + ": shard \"" + name + "\" (holding \"" + *keys.begin() + "\") not found: " + shard_path);
    }
    std::map<std::string, HostTensor> tensors = ReadSafetensors(shard_path);
    for (const std::string& key : keys) {
      if (tensors.count(key) == 0) {
        throw Error(ErrorKind::kDataLoss,
                    shard_path + ": missing tensor \"" + key + "\" (listed for this shard in " + kIndexName + ")");
      }
    }
    for (const auto& [key, tensor] : tensors) {
      if (keys.count(key) == 0) {
        throw Error(ErrorKind::kDataLoss,
                    shard_path + ": tensor \"" + key + "\" is not listed for this shard in " + kIndexName);
      }
    }
    AddFile(shard_path, std::move(tensors), &weights);
  }
  return weights;
}

Weights ReadWeights(const std::string& dir) {
  Weights weights;
  const std::string single = Join(dir, "model.safetensors");
  const std::string index = Join(dir, kIndexName);
  const std::string bin = Join(dir, "pytorch_model.bin");
  if (Exists(single)) {
    weights.description = "model.safetensors";
    weights.main_file = single;
    AddFile(single, ReadSafetensors(single), &weights);
  } else if (Exists(index)) {
    weights = ReadShards(dir, index);
  } else if (Exists(bin)) {
    weights.description = "pytorch_model.bin";
    weights.main_file = bin;
    std::map<std::string, HostTensor> tensors;
    for (auto& [key, value] : ReadTorchStateDict(bin)) {
      // Python scalars (bookkeeping such as Quamba's scales) are no FP weights.
      if (auto* tensor = std::get_if<HostTensor>(&value)) tensors.emplace(key, std::move(*tensor));
    }
    AddFile(bin, std::move(tensors), &weights);
  } else {
    throw Error(ErrorKind::kNotFound,
                dir + ": no weights: looked for model.safetensors, " + kIndexName + " and pytorch_model.bin");
  }
  return weights;
}

bool IsFloat(DType dtype) { return dtype == DType::kF32 || dtype == DType::kF16 || dtype == DType::kBF16; }

// NaN and Inf are the values whose exponent bits are all ones; testing the bits needs no conversion.
int64_t CountNonFinite(const HostTensor& t) {
  int64_t count = 0;
  const uint8_t* p = t.bytes.data();
  const size_t n = t.bytes.size() / DTypeSize(t.dtype);
  for (size_t i = 0; i < n; ++i) {
    if (t.dtype == DType::kF32) {
      uint32_t bits;
      std::memcpy(&bits, p + 4 * i, 4);
      count += (bits & 0x7f800000u) == 0x7f800000u;
    } else {
      uint16_t bits;
      std::memcpy(&bits, p + 2 * i, 2);
      const uint16_t exponent = t.dtype == DType::kF16 ? 0x7c00 : 0x7f80;
      count += (bits & exponent) == exponent;
    }
  }
  return count;
}

void Validate(const MambaConfig& config, const Weights& weights) {
  const std::map<std::string, std::vector<int64_t>> expected = ExpectedWeightShapes(config);
  std::set<std::string> unexpected;
  for (const auto& [key, tensor] : weights.tensors) {
    if (expected.count(key) == 0) unexpected.insert(key);
  }
  // A misspelt key shows up as both missing and unexpected: say both at once.
  const std::string unexpected_note = unexpected.empty() ? "" : "; unexpected tensors present: " + Quoted(unexpected);
  for (const auto& [key, shape] : expected) {
    if (weights.tensors.count(key) == 0) {
      throw Error(ErrorKind::kDataLoss, weights.main_file + ": missing tensor \"" + key + "\" (expected shape " +
                                            ShapeString(shape) + ")" + unexpected_note);
    }
  }
  if (!unexpected.empty()) {
    throw Error(ErrorKind::kDataLoss, weights.main_file + ": unexpected tensors " + Quoted(unexpected) +
                                          " (not part of a Mamba-1 model of this config.json)");
  }
  for (const auto& [key, shape] : expected) {
    const HostTensor& tensor = weights.tensors.at(key);
    const std::string where = weights.source.at(key) + ": tensor \"" + key + "\"";
    if (tensor.shape != shape) {
      throw Error(ErrorKind::kDataLoss, where + " has shape " + tensor.ShapeString() + ", expected " +
                                            ShapeString(shape) + " from config.json");
    }
    if (!IsFloat(tensor.dtype)) {
      throw Error(ErrorKind::kDataLoss,
                  where + " has dtype " + DTypeName(tensor.dtype) + ", expected a float dtype (F32, F16 or BF16)");
    }
    if (const int64_t bad = CountNonFinite(tensor)) {
      throw Error(ErrorKind::kDataLoss, where + " has " + std::to_string(bad) + " non-finite values (NaN or Inf) of " +
                                            std::to_string(tensor.numel()) + ", expected all finite");
    }
  }
}

}  // namespace

std::map<std::string, std::vector<int64_t>> ExpectedWeightShapes(const MambaConfig& c) {
  std::map<std::string, std::vector<int64_t>> shapes;
  shapes[kEmbedding] = {c.vocab_size, c.d_model};
  for (int64_t i = 0; i < c.n_layer; ++i) {
    const std::string layer = "backbone.layers." + std::to_string(i) + ".";
    const std::string mixer = layer + "mixer.";
    shapes[layer + "norm.weight"] = {c.d_model};
    shapes[mixer + "in_proj.weight"] = {2 * c.d_inner, c.d_model};
    shapes[mixer + "conv1d.weight"] = {c.d_inner, 1, c.d_conv};
    shapes[mixer + "x_proj.weight"] = {c.dt_rank + 2 * c.d_state, c.d_inner};
    shapes[mixer + "dt_proj.weight"] = {c.d_inner, c.dt_rank};
    shapes[mixer + "dt_proj.bias"] = {c.d_inner};
    shapes[mixer + "A_log"] = {c.d_inner, c.d_state};
    shapes[mixer + "D"] = {c.d_inner};
    shapes[mixer + "out_proj.weight"] = {c.d_model, c.d_inner};
    if (c.conv_bias) shapes[mixer + "conv1d.bias"] = {c.d_inner};
    if (c.proj_bias) {
      shapes[mixer + "in_proj.bias"] = {2 * c.d_inner};
      shapes[mixer + "out_proj.bias"] = {c.d_model};
    }
  }
  shapes["backbone.norm_f.weight"] = {c.d_model};
  if (!c.tie_embeddings) shapes[kLmHead] = {c.vocab_size, c.d_model};
  return shapes;
}

Checkpoint LoadCheckpoint(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw Error(ErrorKind::kNotFound, dir + ": checkpoint folder not found");
  const std::string config_path = Join(dir, "config.json");
  if (!Exists(config_path)) throw Error(ErrorKind::kNotFound, dir + ": no config.json in the checkpoint folder");

  Checkpoint checkpoint;
  checkpoint.dir = dir;
  checkpoint.config = ReadMambaConfig(config_path);
  if (checkpoint.config.layout == CheckpointLayout::kQuamba) {
    throw Error(ErrorKind::kFailedPrecondition,
                dir +
                    ": a quantized Quamba W8A8 checkpoint (ssm_cfg.layer \"W8A8QMamba\" in config.json) holds int8 "
                    "weights and scales, no FP weights: give the FP checkpoint it was made from as the model");
  }
  Weights weights = ReadWeights(dir);
  checkpoint.weights_description = weights.description;

  // transformers' name for the embedding; everything else is named alike.
  if (auto it = weights.tensors.find(kTransformersEmbedding); it != weights.tensors.end()) {
    if (weights.tensors.count(kEmbedding) != 0) {
      throw Error(ErrorKind::kDataLoss, weights.source[kTransformersEmbedding] + ": both \"" + kEmbedding +
                                            "\" and \"" + kTransformersEmbedding + "\" are present");
    }
    weights.tensors[kEmbedding] = std::move(it->second);
    weights.tensors.erase(it);
    weights.source[kEmbedding] = weights.source[kTransformersEmbedding];
  }

  // Tied models use the embedding as lm_head; a stored copy is redundant, or a sign the config is wrong.
  if (auto head = weights.tensors.find(kLmHead); checkpoint.config.tie_embeddings && head != weights.tensors.end()) {
    const auto embedding = weights.tensors.find(kEmbedding);
    if (embedding != weights.tensors.end() &&
        (head->second.dtype != embedding->second.dtype || head->second.shape != embedding->second.shape ||
         head->second.bytes != embedding->second.bytes)) {
      Log(LogLevel::kWarn, weights.source[kLmHead] + ": \"" + kLmHead + "\" differs from \"" + kEmbedding +
                               "\" but config.json ties them: using the embedding");
    }
    weights.tensors.erase(head);
  }

  Validate(checkpoint.config, weights);
  checkpoint.weights = std::move(weights.tensors);
  return checkpoint;
}

}  // namespace layerscope
