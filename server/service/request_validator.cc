#include "server/service/request_validator.h"

#include <algorithm>
#include <map>
#include <optional>

#include "core/util/error.h"
#include "server/service/data_source.h"

namespace layerscope::server {
namespace {

std::string Quoted(const std::string& s) { return "\"" + s + "\""; }

std::string Indexed(const char* field, int i) { return std::string(field) + "[" + std::to_string(i) + "]"; }

// Messages travel as one line (clients print them as one): the core's multi-line listings are joined with "; ".
std::string OneLine(std::string text) {
  while (!text.empty() && text.back() == '\n') text.pop_back();
  for (size_t at = text.find('\n'); at != std::string::npos; at = text.find('\n', at)) text.replace(at, 1, "; ");
  return text;
}

[[noreturn]] void Invalid(const std::string& message) { throw Error(ErrorKind::kInvalidArgument, message); }

// Mode names end up in file names and table columns; keep them to a safe, printable set.
bool IsSafeModeName(const std::string& name) {
  if (name.size() > 64) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
           c == '+' || c == '-';
  });
}

// A mode runs the float or the W8A8 weights; the model must hold the ones it needs.
void RequireWeights(const std::string& field, const ModeSpec& mode, const ModelEntry& model) {
  const ModelInfo& info = model.info;
  if (mode.weights == WeightSet::kQuantized && !info.quantized_available) {
    throw Error(ErrorKind::kFailedPrecondition, field + ": mode " + Quoted(mode.name) +
                                                    " runs the W8A8 model, which model " + Quoted(info.name) +
                                                    " does not have (" + info.quantization + ")");
  }
  if (mode.weights == WeightSet::kFloat && !info.float_available) {
    throw Error(ErrorKind::kFailedPrecondition, field + ": mode " + Quoted(mode.name) +
                                                    " runs the float model, which model " + Quoted(info.name) +
                                                    " does not have (a W8A8 checkpoint holds no float weights)");
  }
}

// The modes a request can name: the built-in rows, then its custom_modes in request order.
class ModeTable {
 public:
  explicit ModeTable(const v1::CompareRequest& request) : modes_(BuiltinModes()) {
    std::map<std::string, int> custom_index;
    for (int i = 0; i < request.custom_modes_size(); ++i) {
      const v1::ModeDefinition& definition = request.custom_modes(i);
      const std::string field = Indexed("custom_modes", i);
      const std::string& name = definition.name();
      if (name.empty()) Invalid(field + ".name: empty; a composed mode needs a name");
      if (!IsSafeModeName(name)) {
        Invalid(field + ".name: " + Quoted(name) +
                " is not allowed; use up to 64 letters, digits and the characters _ . + -");
      }
      if (FindBuiltinMode(name)) {
        Invalid(field + ".name: " + Quoted(name) + " is a built-in mode; built-in modes: " + BuiltinModeNames());
      }
      const auto [seen, inserted] = custom_index.emplace(name, i);
      if (!inserted) {
        Invalid(field + ".name: " + Quoted(name) + " repeats " + Indexed("custom_modes", seen->second) + ".name");
      }
      try {
        modes_.push_back(ParseModeSpec(name, definition.spec()));
      } catch (const Error& error) {
        throw Error(error.kind(), field + ".spec: " + OneLine(error.what()));
      }
    }
  }

  std::optional<ModeSpec> Find(const std::string& name) const {
    for (const ModeSpec& mode : modes_) {
      if (mode.name == name) return mode;
    }
    return std::nullopt;
  }

  ModeSpec Resolve(const std::string& field, const std::string& name) const {
    auto mode = Find(name);
    if (!mode) Invalid(field + ": unknown mode " + Quoted(name) + "; known modes: " + Names());
    return *mode;
  }

  std::string Names() const {
    std::string names;
    for (const ModeSpec& mode : modes_) names += (names.empty() ? "" : ", ") + mode.name;
    return names;
  }

 private:
  std::vector<ModeSpec> modes_;
};

std::vector<int> ResolveLayers(const v1::CompareRequest& request, const ModelEntry& model) {
  const int n_layer = static_cast<int>(model.info.config.n_layer);
  std::vector<int> layers;
  if (request.layers_size() == 0) {
    for (int layer = 0; layer < n_layer; ++layer) layers.push_back(layer);
    return layers;
  }
  std::map<int, int> named_by;  // layer -> index in request.layers
  for (int i = 0; i < request.layers_size(); ++i) {
    const int value = request.layers(i);
    if (value >= n_layer || value < -n_layer) {
      Invalid(Indexed("layers", i) + ": " + std::to_string(value) + " is out of range; model " +
              Quoted(model.info.name) + " has " + std::to_string(n_layer) + " layers: 0 to " +
              std::to_string(n_layer - 1) + ", or -" + std::to_string(n_layer) + " to -1 counting from the end");
    }
    const int layer = value < 0 ? n_layer + value : value;
    const auto [seen, inserted] = named_by.emplace(layer, i);
    if (!inserted) {
      Invalid(Indexed("layers", i) + ": " + std::to_string(value) + " names layer " + std::to_string(layer) + ", as " +
              Indexed("layers", seen->second) + " does");
    }
    layers.push_back(layer);
  }
  std::sort(layers.begin(), layers.end());
  return layers;
}

std::vector<CapturePoint> ResolvePoints(const v1::CompareRequest& request) {
  if (request.points_size() == 0) return DefaultCapturePoints();
  std::vector<CapturePoint> points;
  for (int i = 0; i < request.points_size(); ++i) {
    const std::string& name = request.points(i);
    const auto point = ParseCapturePoint(name);
    if (!point) {
      std::string known;
      for (const CapturePointInfo& info : AllCapturePoints())
        known += (known.empty() ? "" : ", ") + std::string(info.name);
      Invalid(Indexed("points", i) + ": unknown capture point " + Quoted(name) + "; capture points: " + known);
    }
    const auto seen = std::find(points.begin(), points.end(), *point);
    if (seen != points.end()) {
      Invalid(Indexed("points", i) + ": " + Quoted(name) + " repeats " +
              Indexed("points", static_cast<int>(seen - points.begin())));
    }
    points.push_back(*point);
  }
  return points;
}

// A size field: 0 takes the default; negative is invalid; above `limit` is over the server's limit `limit_name`.
int ResolveSize(const char* field, int value, int default_value, int limit, const char* limit_name) {
  if (value < 0) {
    Invalid(std::string(field) + ": " + std::to_string(value) + " is negative; give 1 to " + std::to_string(limit) +
            ", or 0 for the default " + std::to_string(default_value));
  }
  const int size = value == 0 ? default_value : value;
  if (size > limit) {
    Invalid(std::string(field) + ": " + std::to_string(size) + " is over this server's limit " + limit_name + " = " +
            std::to_string(limit));
  }
  return size;
}

constexpr char kSaveGroups[] = "fp_only, quant_only, essential, all";

// The named groups of a save (the seed's): the built-in modes of each, in table order; nothing for another name.
std::optional<std::vector<ModeSpec>> SaveGroup(const std::string& name) {
  const std::vector<ModeSpec>& builtin = BuiltinModes();
  std::vector<ModeSpec> group;
  if (name == "fp_only") {
    group.push_back(*FindBuiltinMode("fp32"));
  } else if (name == "quant_only") {
    for (const ModeSpec& mode : builtin) {
      if (mode.weights == WeightSet::kQuantized) group.push_back(mode);
    }
  } else if (name == "essential") {
    for (const char* mode : {"fp32", "0", "2-1", "2-2", "2-4"}) group.push_back(*FindBuiltinMode(mode));
  } else if (name == "all") {
    group = builtin;
  } else {
    return std::nullopt;
  }
  return group;
}

}  // namespace

RequestValidator::RequestValidator(const std::vector<ModelEntry>& models, const ServerLimits& limits,
                                   std::string data_root)
    : models_(models), limits_(limits), data_root_(std::move(data_root)) {}

const ModelEntry& RequestValidator::ResolveModel(const std::string& name) const {
  for (const ModelEntry& model : models_) {
    if (name.empty() ? model.is_default : model.info.name == name) return model;
  }
  std::string known;
  for (const ModelEntry& model : models_) known += (known.empty() ? "" : ", ") + model.info.name;
  throw Error(ErrorKind::kNotFound, "model: unknown model " + Quoted(name) + "; models: " + known);
}

ValidatedCompare RequestValidator::Validate(const v1::CompareRequest& request) const {
  ValidatedCompare out;
  out.model = &ResolveModel(request.model());

  const ModeTable modes(request);
  const std::string reference_name = request.reference_mode().empty() ? "fp32" : request.reference_mode();
  out.request.reference = modes.Resolve("reference_mode", reference_name);
  RequireWeights("reference_mode", out.request.reference, *out.model);
  if (request.modes_size() == 0) Invalid("modes: at least one mode is required; known modes: " + modes.Names());
  for (int i = 0; i < request.modes_size(); ++i) {
    const std::string& name = request.modes(i);
    const std::string field = Indexed("modes", i);
    const ModeSpec mode = modes.Resolve(field, name);
    if (name == reference_name) {
      Invalid(field + ": " + Quoted(name) + " is the reference mode; modes are compared against it");
    }
    for (int j = 0; j < i; ++j) {
      if (request.modes(j) == name) Invalid(field + ": " + Quoted(name) + " repeats " + Indexed("modes", j));
    }
    RequireWeights(field, mode, *out.model);
    out.request.modes.push_back(mode);
  }
  ValidateSelection(request, &out);
  return out;
}

ValidatedCompare RequestValidator::ValidateSave(const v1::SaveRequest& request) const {
  // The fields a save shares with a comparison, under the same names, so that they are checked by the same code.
  v1::CompareRequest selection;
  selection.set_model(request.model());
  *selection.mutable_layers() = request.layers();
  *selection.mutable_points() = request.points();
  if (request.has_data()) *selection.mutable_data() = request.data();
  selection.set_samples(request.samples());
  selection.set_seq_len(request.seq_len());
  selection.set_batch_size(request.batch_size());
  *selection.mutable_custom_modes() = request.custom_modes();

  ValidatedCompare out;
  out.model = &ResolveModel(request.model());
  const ModeTable modes(selection);
  const std::string known = "known modes: " + modes.Names() + "; groups: " + kSaveGroups;
  if (request.modes_size() == 0) Invalid("modes: at least one mode or group is required; " + known);
  for (int i = 0; i < request.modes_size(); ++i) {
    const std::string& name = request.modes(i);
    std::string field = Indexed("modes", i);
    std::vector<ModeSpec> named;
    if (const auto group = SaveGroup(name)) {
      named = *group;
      field += " (group " + Quoted(name) + ")";
    } else if (auto mode = modes.Find(name)) {
      named.push_back(*mode);
    } else {
      Invalid(field + ": unknown mode or group " + Quoted(name) + "; " + known);
    }
    for (const ModeSpec& mode : named) {
      const bool seen = std::any_of(out.request.modes.begin(), out.request.modes.end(),
                                    [&](const ModeSpec& other) { return other.name == mode.name; });
      if (seen) continue;
      RequireWeights(field, mode, *out.model);
      out.request.modes.push_back(mode);
    }
  }
  ValidateSelection(selection, &out);
  return out;
}

void RequestValidator::ValidateSelection(const v1::CompareRequest& request, ValidatedCompare* out) const {
  out->request.layers = ResolveLayers(request, *out->model);
  out->request.points = ResolvePoints(request);

  out->samples = ResolveSize("samples", request.samples(), kDefaultSamples, limits_.max_samples, "max-samples");
  out->seq_len = ResolveSize("seq_len", request.seq_len(), kDefaultSeqLen, limits_.max_seq_len, "max-seq-len");
  const int64_t tokens = static_cast<int64_t>(out->samples) * out->seq_len;
  if (tokens > limits_.max_tokens) {
    Invalid("samples x seq_len: " + std::to_string(out->samples) + " x " + std::to_string(out->seq_len) + " = " +
            std::to_string(tokens) +
            " tokens is over this server's limit max-tokens = " + std::to_string(limits_.max_tokens));
  }
  const int batch_size = request.batch_size();
  if (batch_size < 0) {
    Invalid("batch_size: " + std::to_string(batch_size) + " is negative; give 1 to samples (" +
            std::to_string(out->samples) + "), or 0 for min(samples, " + std::to_string(kDefaultMaxBatch) + ")");
  }
  if (batch_size > out->samples) {
    Invalid("batch_size: " + std::to_string(batch_size) + " is more than samples = " + std::to_string(out->samples));
  }
  out->request.batch_size = batch_size == 0 ? std::min(out->samples, kDefaultMaxBatch) : batch_size;

  Samples samples =
      ResolveSamples(request.data(), *out->model, out->samples, out->seq_len, data_root_, limits_.max_dataset_bytes);
  out->request.samples = std::move(samples.tokens);
  out->data = std::move(samples.description);
}

}  // namespace layerscope::server
