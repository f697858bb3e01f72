#include "client/compare_options.h"

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "client/errors.h"

namespace layerscope::client {
namespace {

ClientError UsageError(const std::string& message) { return ClientError(kExitUsage, message); }

// A whole decimal int (optionally negative); nothing else in `text`.
bool ParseInt(const std::string& text, int* value) {
  if (text.empty() || (text[0] != '-' && (text[0] < '0' || text[0] > '9'))) return false;
  errno = 0;
  char* end = nullptr;
  const long parsed = std::strtol(text.c_str(), &end, 10);
  if (errno != 0 || *end != '\0' || end == text.c_str() || parsed < INT_MIN || parsed > INT_MAX) return false;
  *value = static_cast<int>(parsed);
  return true;
}

std::string ReadFile(const std::string& path, const char* option) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ClientError(kExitFailure, std::string(option) + ": cannot open " + path + ": " + std::strerror(errno));
  std::ostringstream content;
  content << in.rdbuf();
  if (in.bad()) throw ClientError(kExitFailure, std::string(option) + ": cannot read " + path);
  return content.str();
}

// Protobuf refuses to parse a string field that is not UTF-8, so the server would only see a broken message;
// checking here names the file and the offset instead.
size_t FirstInvalidUtf8(const std::string& text) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    const unsigned char c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    // The sequence length the lead byte announces, and the smallest code point that needs it (no overlong forms).
    size_t len = 0;
    unsigned min = 0;
    if ((c & 0xE0) == 0xC0) {
      len = 2;
      min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      min = 0x10000;
    } else {
      return i;
    }
    if (i + len > n) return i;
    unsigned code = c & (0x7F >> len);
    for (size_t k = 1; k < len; ++k) {
      if ((s[i + k] & 0xC0) != 0x80) return i;
      code = (code << 6) | (s[i + k] & 0x3F);
    }
    if (code < min || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) return i;
    i += len;
  }
  return std::string::npos;
}

}  // namespace

std::vector<int> ParseLayers(const std::string& text) {
  std::vector<int> layers;
  std::stringstream items(text);
  std::string item;
  while (std::getline(items, item, ',')) {
    int single = 0;
    if (ParseInt(item, &single)) {
      layers.push_back(single);
      continue;
    }
    // A range "A-B": the separating '-' is the first one after A's optional sign.
    const size_t dash = item.find('-', 1);
    int first = 0, last = 0;
    if (dash == std::string::npos || !ParseInt(item.substr(0, dash), &first) ||
        !ParseInt(item.substr(dash + 1), &last)) {
      throw UsageError("--layers: '" + item + "' is not a layer or a range; write e.g. 0,-1 or 0-3");
    }
    if ((first < 0) != (last < 0)) {
      throw UsageError("--layers: range '" + item +
                       "' mixes a layer index and a count from the end; write e.g. 0-3 or -3--1");
    }
    if (first > last) throw UsageError("--layers: range '" + item + "' runs backwards");
    for (int layer = first; layer <= last; ++layer) layers.push_back(layer);
  }
  if (layers.empty()) throw UsageError("--layers: no layer given; write e.g. 0,-1 or 0-3");
  return layers;
}

v1::ModeDefinition ParseModeDefinition(const std::string& text) {
  const size_t colon = text.find(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) {
    throw UsageError("--mode-spec: '" + text + "' is not NAME:field=value,... (see 'layerscope modes' for the fields)");
  }
  v1::ModeDefinition definition;
  definition.set_name(text.substr(0, colon));
  definition.set_spec(text.substr(colon + 1));
  return definition;
}

v1::TokenSamples ParseTokenSamples(const std::string& content, const std::string& name) {
  v1::TokenSamples samples;
  std::stringstream lines(content);
  std::string line;
  for (int line_number = 1; std::getline(lines, line); ++line_number) {
    for (char& c : line) {
      if (c == ',' || c == '\t' || c == '\r') c = ' ';
    }
    std::stringstream words(line);
    std::string word;
    if (!(words >> word) || word[0] == '#') continue;
    v1::TokenSequence* sequence = samples.add_samples();
    do {
      int id = 0;
      if (!ParseInt(word, &id)) {
        throw UsageError("--tokens-file: " + name + ":" + std::to_string(line_number) + ": '" + word +
                         "' is not a token id");
      }
      sequence->add_ids(id);
    } while (words >> word);
  }
  if (samples.samples_size() == 0) throw UsageError("--tokens-file: " + name + " holds no token ids");
  return samples;
}

v1::CompareRequest BuildCompareRequest(const CompareOptions& options) {
  v1::CompareRequest request;
  request.set_model(options.model);
  request.set_reference_mode(options.reference);
  for (const std::string& mode : options.modes) request.add_modes(mode);
  for (const std::string& text : options.mode_specs) {
    v1::ModeDefinition definition = ParseModeDefinition(text);
    request.add_modes(definition.name());
    *request.add_custom_modes() = std::move(definition);
  }
  if (!options.layers.empty()) {
    for (int layer : ParseLayers(options.layers)) request.add_layers(layer);
  }
  for (const std::string& point : options.points) request.add_points(point);
  request.set_samples(options.samples);
  request.set_seq_len(options.seq_len);
  request.set_batch_size(options.batch_size);
  if (!options.text_file.empty()) {
    std::string text = ReadFile(options.text_file, "--text-file");
    const size_t bad = FirstInvalidUtf8(text);
    if (bad != std::string::npos) {
      throw UsageError("--text-file: " + options.text_file + " is not UTF-8 text (invalid byte at offset " +
                       std::to_string(bad) + ")");
    }
    request.mutable_data()->set_text(std::move(text));
  } else if (!options.tokens_file.empty()) {
    *request.mutable_data()->mutable_tokens() =
        ParseTokenSamples(ReadFile(options.tokens_file, "--tokens-file"), options.tokens_file);
  } else if (!options.data_file.empty()) {
    request.mutable_data()->set_file(options.data_file);
  } else if (!options.data.empty()) {
    v1::Upload* upload = request.mutable_data()->mutable_upload();
    // The name's ending tells the server the format.
    const size_t slash = options.data.find_last_of('/');
    upload->set_name(slash == std::string::npos ? options.data : options.data.substr(slash + 1));
    upload->set_content(ReadFile(options.data, "--data"));
    if (!options.tokenizer.empty()) upload->set_tokenizer_json(ReadFile(options.tokenizer, "--tokenizer"));
    if (options.layout == "documents") upload->set_layout(v1::SAMPLE_LAYOUT_DOCUMENTS);
    if (options.layout == "packed") upload->set_layout(v1::SAMPLE_LAYOUT_PACKED);
    if (options.seed.has_value()) upload->set_seed(*options.seed);
  }
  return request;
}

}  // namespace layerscope::client
