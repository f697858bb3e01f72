#include "client/offline.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "client/compare_options.h"
#include "client/errors.h"
#include "client/npy.h"
#include "core/metrics/metric_accumulator.h"
#include "proto/metrics_proto.h"

namespace layerscope::client {
namespace {

namespace fs = std::filesystem;

// What a save wrote for one mode, from its mode_<mode>_stats.json.
struct SavedMode {
  std::string mode;
  nlohmann::json stats;  // the whole file
  std::vector<int> layers;
  std::vector<std::string> points;
  int samples = 0;
  int seq_len = 0;
  int batch_size = 0;
};

[[noreturn]] void Usage(const std::string& message) { throw ClientError(kExitUsage, "compare --offline: " + message); }

// The modes a folder holds a stats file of, for error messages.
std::string SavedModes(const fs::path& dir) {
  std::vector<std::string> modes;
  std::error_code ec;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    const std::string prefix = "mode_", suffix = "_stats.json";
    if (name.size() > prefix.size() + suffix.size() && name.compare(0, prefix.size(), prefix) == 0 &&
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
      modes.push_back(name.substr(prefix.size(), name.size() - prefix.size() - suffix.size()));
    }
  }
  std::sort(modes.begin(), modes.end());
  std::string list;
  for (const std::string& mode : modes) list += (list.empty() ? "" : ", ") + mode;
  return list.empty() ? "none" : list;
}

SavedMode ReadSavedMode(const fs::path& dir, const std::string& mode) {
  const fs::path path = dir / ("mode_" + mode + "_stats.json");
  std::ifstream in(path);
  if (!in)
    Usage(path.string() + " does not exist: mode " + mode + " was not saved there (saved modes: " + SavedModes(dir) +
          ")");
  SavedMode saved;
  saved.mode = mode;
  try {
    in >> saved.stats;
    saved.layers = saved.stats.at("layers").get<std::vector<int>>();
    saved.points = saved.stats.at("points").get<std::vector<std::string>>();
    saved.samples = saved.stats.at("num_samples").get<int>();
    saved.seq_len = saved.stats.at("seq_length").get<int>();
    saved.batch_size = saved.stats.at("batch_size").get<int>();
  } catch (const nlohmann::json::exception& error) {
    throw ClientError(kExitFailure, path.string() + ": not a stats file `layerscope save` wrote: " + error.what());
  }
  if (saved.batch_size < 1) throw ClientError(kExitFailure, path.string() + ": batch_size must be at least 1");
  return saved;
}

bool Holds(const SavedMode& saved, int layer, const std::string& point) {
  return saved.stats.contains("stats") && saved.stats["stats"].contains("layer_" + std::to_string(layer) + "_" + point);
}

// The layers of --layers among the reference's saved ones; negative values count from the end of those.
std::vector<int> SelectLayers(const std::string& text, const SavedMode& reference) {
  if (text.empty()) return reference.layers;
  std::vector<int> layers;
  const int saved = static_cast<int>(reference.layers.size());
  for (int value : ParseLayers(text)) {
    if (value < -saved)
      Usage("--layers " + std::to_string(value) + ": only " + std::to_string(saved) + " layers were saved");
    const int layer = value < 0 ? reference.layers[saved + value] : value;
    if (std::find(reference.layers.begin(), reference.layers.end(), layer) == reference.layers.end()) {
      Usage("--layers " + std::to_string(value) + ": layer " + std::to_string(layer) + " was not saved for " +
            reference.mode);
    }
    if (std::find(layers.begin(), layers.end(), layer) == layers.end()) layers.push_back(layer);
  }
  std::sort(layers.begin(), layers.end());
  return layers;
}

std::vector<std::string> SelectPoints(const std::vector<std::string>& wanted, const SavedMode& reference) {
  if (wanted.empty()) return reference.points;
  for (const std::string& point : wanted) {
    if (std::find(reference.points.begin(), reference.points.end(), point) == reference.points.end()) {
      std::string saved;
      for (const std::string& name : reference.points) saved += (saved.empty() ? "" : ", ") + name;
      Usage("--points " + point + ": not saved for " + reference.mode + " (saved points: " + saved + ")");
    }
  }
  return wanted;
}

std::string ArrayPath(const fs::path& dir, const std::string& mode, int layer, const std::string& point) {
  return (dir / "layer_outputs" / ("mode_" + mode + "_layer_" + std::to_string(layer) + "_" + point + ".npy")).string();
}

// The metrics of one (mode, layer, point), fed batch_size samples at a time as a CPU server feeds them.
Metrics CompareArrays(const std::string& ref_path, const std::string& mode_path, const SavedMode& reference) {
  NpyFloat32Reader ref(ref_path), mode(mode_path);
  if (ref.shape().size() != 3 || ref.shape()[0] != reference.samples || ref.shape()[1] != reference.seq_len) {
    throw ClientError(kExitFailure, ref_path + ": shape is not [" + std::to_string(reference.samples) + ", " +
                                        std::to_string(reference.seq_len) + ", channels]");
  }
  if (mode.shape() != ref.shape()) {
    throw ClientError(kExitFailure, mode_path + ": its shape differs from " + ref_path + "'s");
  }
  const int64_t per_sample = ref.shape()[1] * ref.shape()[2];
  const int64_t chunk = per_sample * reference.batch_size;
  std::vector<float> ref_values(static_cast<size_t>(chunk)), mode_values(static_cast<size_t>(chunk));
  MetricAccumulator accumulator;
  for (int64_t first = 0; first < ref.numel(); first += chunk) {
    const int64_t count = std::min(chunk, ref.numel() - first);
    ref.Read(first, count, ref_values.data());
    mode.Read(first, count, mode_values.data());
    accumulator.Add(ref_values.data(), mode_values.data(), static_cast<size_t>(count));
  }
  return accumulator.Finish();
}

}  // namespace

CompareResult CompareOffline(const OfflineCompareOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  const fs::path dir(options.dir);
  if (!fs::is_directory(dir)) Usage(options.dir + " is not a folder");
  if (options.modes.empty()) Usage("name at least one MODE to compare with the reference " + options.reference);
  const SavedMode reference = ReadSavedMode(dir, options.reference);
  const std::vector<int> layers = SelectLayers(options.layers, reference);
  const std::vector<std::string> points = SelectPoints(options.points, reference);

  std::vector<v1::MetricsRow> rows;
  for (const std::string& name : options.modes) {
    if (name == options.reference) Usage(name + " is the reference mode; modes are compared against it");
    const SavedMode mode = ReadSavedMode(dir, name);
    if (mode.samples != reference.samples || mode.seq_len != reference.seq_len) {
      Usage("mode " + name + " was saved with " + std::to_string(mode.samples) + " samples x " +
            std::to_string(mode.seq_len) + " tokens, the reference " + options.reference + " with " +
            std::to_string(reference.samples) + " x " + std::to_string(reference.seq_len));
    }
    for (int layer : layers) {
      for (const std::string& point : points) {
        if (!Holds(mode, layer, point)) {
          Usage("mode " + name + " has no saved layer " + std::to_string(layer) + " " + point);
        }
        v1::MetricsRow row;
        row.set_mode(name);
        row.set_layer(layer);
        row.set_point(point);
        ToProto(CompareArrays(ArrayPath(dir, options.reference, layer, point), ArrayPath(dir, name, layer, point),
                              reference),
                row.mutable_metrics());
        rows.push_back(std::move(row));
      }
    }
  }

  v1::CompareSummary summary;
  summary.set_model(reference.stats.value("model", ""));
  summary.set_reference_mode(options.reference);
  for (const std::string& mode : options.modes) summary.add_modes(mode);
  for (int layer : layers) summary.add_layers(layer);
  for (const std::string& point : points) summary.add_points(point);
  summary.set_samples(reference.samples);
  summary.set_seq_len(reference.seq_len);
  summary.set_batch_size(reference.batch_size);
  summary.set_device("offline (" + options.dir + ")");
  summary.set_server_seconds(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  summary.set_rows(static_cast<int64_t>(rows.size()));
  return CompareResult(std::move(summary), std::move(rows));
}

}  // namespace layerscope::client
