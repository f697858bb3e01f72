#include "client/listings.h"

#include <vector>

#include "client/text_format.h"

namespace layerscope::client {
namespace {

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  size_t begin = 0;
  while (begin < text.size()) {
    size_t end = text.find('\n', begin);
    if (end == std::string::npos) end = text.size();
    if (end > begin) lines.push_back(text.substr(begin, end - begin));
    begin = end + 1;
  }
  return lines;
}

}  // namespace

std::string ModesTable(const v1::ListModesResponse& modes) {
  // The descriptions and stage lists are sentences; they wrap in their column so the table fits a terminal.
  constexpr size_t kTextWidth = 80;
  std::vector<std::vector<std::string>> rows;
  for (const v1::ModeInfo& mode : modes.modes()) {
    std::string stages;
    for (const std::string& stage : mode.quantized_stages()) stages += (stages.empty() ? "" : ", ") + stage;
    const std::string kind = !mode.precision().empty() ? mode.precision() : mode.quantized() ? "W8A8" : "-";
    std::vector<std::string> text = WrapWords(mode.description(), kTextWidth);
    if (!stages.empty()) {
      for (const std::string& line : WrapWords("quantized: " + stages, kTextWidth)) text.push_back(line);
    }
    if (text.empty()) text.push_back("");
    for (size_t i = 0; i < text.size(); ++i) {
      rows.push_back({i == 0 ? mode.name() : "", i == 0 ? kind : "", text[i]});
    }
  }
  std::string out = TextTable({"Name", "Precision", "Description"}, rows);
  if (!modes.spec_syntax().empty()) {
    out += "\nCompose a mode with --mode-spec 'NAME:field=value,...'; fields:\n";
    for (const std::string& line : Lines(modes.spec_syntax())) out += "  " + line + "\n";
  }
  return out;
}

std::string ModelsTable(const v1::ListModelsResponse& models) {
  std::vector<std::vector<std::string>> rows;
  std::string quantization;
  for (const v1::ModelInfo& m : models.models()) {
    rows.push_back({m.name(), m.is_default() ? "yes" : "", m.layout(), m.device(), std::to_string(m.n_layer()),
                    std::to_string(m.d_model()), std::to_string(m.d_inner()), std::to_string(m.d_state()),
                    std::to_string(m.vocab_size()), std::to_string(m.parameters()), m.float_available() ? "yes" : "no",
                    m.quantized_available() ? "yes" : "no", m.weights()});
    if (!m.quantization().empty()) quantization += "  " + m.name() + ": " + m.quantization() + "\n";
  }
  std::string out = TextTable({"Name", "Default", "Layout", "Device", "Layers", "d_model", "d_inner", "d_state",
                               "Vocab", "Parameters", "Float", "W8A8", "Weights"},
                              rows);
  if (!quantization.empty()) out += "\nW8A8 models:\n" + quantization;
  return out;
}

std::string PointsTable(const v1::ListCapturePointsResponse& points) {
  std::vector<std::vector<std::string>> rows;
  for (const v1::CapturePointInfo& point : points.points()) {
    rows.push_back({point.name(), point.is_default() ? "yes" : "", point.description()});
  }
  return TextTable({"Name", "Default", "Description"}, rows);
}

}  // namespace layerscope::client
