#include "tests/support/tokenizer_checkpoint.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <vector>

#include "core/model/safetensors_reader.h"

namespace layerscope {

std::string FixtureTokenizerPath() { return LAYERSCOPE_SOURCE_DIR "/tests/fixtures/tokenizer/neox.json"; }

std::string WriteTokenizerCheckpoint(const std::string& dir) {
  namespace fs = std::filesystem;
  const fs::path source = LAYERSCOPE_SOURCE_DIR "/tests/fixtures/hf/random-hf-sharded";
  nlohmann::json config = nlohmann::json::parse(std::ifstream(source / "config.json"));
  const int64_t old_vocab = config.at("vocab_size").get<int64_t>();
  config["vocab_size"] = kTokenizerCheckpointVocab;

  std::map<std::string, HostTensor> tensors;
  for (const auto& entry : fs::directory_iterator(source)) {
    if (entry.path().extension() != ".safetensors") continue;
    std::map<std::string, HostTensor> shard = ReadSafetensors(entry.path().string());
    tensors.insert(shard.begin(), shard.end());
  }
  for (const char* key : {"backbone.embeddings.weight", "lm_head.weight"}) {
    HostTensor& tensor = tensors.at(key);
    const int64_t width = tensor.shape.at(1);
    const std::vector<double> old = tensor.ToDoubles();
    std::vector<float> values(static_cast<size_t>(kTokenizerCheckpointVocab * width));
    for (int64_t row = 0; row < kTokenizerCheckpointVocab; ++row) {
      const double scale = row < old_vocab ? 1.0 : 0.5 + static_cast<double>((row * 37) % 100) / 100.0;
      for (int64_t column = 0; column < width; ++column) {
        values[row * width + column] = static_cast<float>(old[(row % old_vocab) * width + column] * scale);
      }
    }
    tensor = HostTensor::FromFloats({kTokenizerCheckpointVocab, width}, values);
  }
  fs::create_directories(dir);
  std::ofstream(fs::path(dir) / "config.json") << config.dump(2);
  WriteSafetensors((fs::path(dir) / "model.safetensors").string(), tensors);
  return dir;
}

}  // namespace layerscope
