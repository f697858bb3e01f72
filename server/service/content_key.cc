#include "server/service/content_key.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <vector>

#include "server/auth/token_store.h"

namespace layerscope::server {
namespace {

// Fields are written with their lengths first, so that no two different field lists give the same bytes.
void Put(std::string* out, const std::string& field) {
  *out += std::to_string(field.size());
  *out += ':';
  *out += field;
}

void Put(std::string* out, int64_t value) { Put(out, std::to_string(value)); }

void PutMode(std::string* out, const ModeSpec& mode) {
  Put(out, mode.name);
  for (int field :
       {static_cast<int>(mode.weights), static_cast<int>(mode.precision), static_cast<int>(mode.conv_input),
        static_cast<int>(mode.conv_output), static_cast<int>(mode.x_proj_input), static_cast<int>(mode.ssm_input),
        static_cast<int>(mode.ssm), static_cast<int>(mode.out_proj_input)}) {
    Put(out, field);
  }
}

}  // namespace

std::string ModelDigest(const ModelInfo& info, const std::string& load_settings) {
  std::string text;
  Put(&text, info.name);
  Put(&text, info.weights);
  Put(&text, info.device);
  Put(&text, load_settings);
  std::vector<std::filesystem::path> files;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(info.dir, ec)) {
    if (entry.is_regular_file(ec)) files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  for (const auto& file : files) {
    Put(&text, file.filename().string());
    Put(&text, static_cast<int64_t>(std::filesystem::file_size(file, ec)));
    Put(&text, static_cast<int64_t>(std::filesystem::last_write_time(file, ec).time_since_epoch().count()));
  }
  return auth::Sha256Hex(text);
}

std::string ContentKey(const std::string& model_digest, const ValidatedCompare& compare) {
  const CompareRequest& request = compare.request;
  std::string tokens;
  for (const auto& sample : request.samples) {
    tokens.append(reinterpret_cast<const char*>(sample.data()), sample.size() * sizeof(int32_t));
  }
  std::string text;
  Put(&text, model_digest);
  PutMode(&text, request.reference);
  Put(&text, static_cast<int64_t>(request.modes.size()));
  for (const ModeSpec& mode : request.modes) PutMode(&text, mode);
  Put(&text, static_cast<int64_t>(request.layers.size()));
  for (int layer : request.layers) Put(&text, layer);
  Put(&text, static_cast<int64_t>(request.points.size()));
  for (CapturePoint point : request.points) Put(&text, CapturePointName(point));
  Put(&text, compare.samples);
  Put(&text, compare.seq_len);
  Put(&text, request.batch_size);
  Put(&text, auth::Sha256Hex(tokens));
  return auth::Sha256Hex(text);
}

}  // namespace layerscope::server
