#include "core/data/byte_samples.h"

#include <fstream>
#include <sstream>

#include "core/util/error.h"

namespace layerscope {

std::vector<std::vector<int32_t>> ByteSamples(const std::string& text, int count, int seq_len) {
  if (count <= 0 || seq_len <= 0) {
    throw Error(ErrorKind::kInvalidArgument, "samples and seq_len must be positive, got samples=" +
                                                 std::to_string(count) + " seq_len=" + std::to_string(seq_len));
  }
  const size_t need = static_cast<size_t>(count) * static_cast<size_t>(seq_len);
  if (text.size() < need) {
    throw Error(ErrorKind::kInvalidArgument, "the text holds " + std::to_string(text.size()) +
                                                 " bytes, fewer than samples x seq_len = " + std::to_string(count) +
                                                 " x " + std::to_string(seq_len) + " = " + std::to_string(need));
  }
  std::vector<std::vector<int32_t>> samples(count, std::vector<int32_t>(seq_len));
  for (int s = 0; s < count; ++s) {
    for (int t = 0; t < seq_len; ++t) {
      samples[s][t] = static_cast<unsigned char>(text[static_cast<size_t>(s) * seq_len + t]);
    }
  }
  return samples;
}

std::string ReadTextFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorKind::kNotFound, "cannot read " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace layerscope
