#include "client/commands.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "client/compare_report.h"
#include "client/errors.h"
#include "client/json_report.h"
#include "client/listings.h"
#include "client/progress_bar.h"

namespace layerscope::client {
namespace {

// The JSON text: two-space indentation, and bytes that are not UTF-8 (which a server should never send) replaced
// rather than aborting the report.
std::string JsonText(const nlohmann::ordered_json& json) {
  return json.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

}  // namespace

void Emit(const std::string& text, const nlohmann::ordered_json& json, const OutputOptions& output, std::ostream& out) {
  if (output.json_path == "-") {
    out << JsonText(json);
    return;
  }
  if (!output.json_path.empty()) {
    std::ofstream file(output.json_path, std::ios::binary | std::ios::trunc);
    file << JsonText(json);
    file.close();
    if (!file) throw ClientError(kExitFailure, "--json: cannot write " + output.json_path);
  }
  out << text;
}

CompareResult RunComparison(Connection& connection, const v1::CompareRequest& request) {
  ProgressBar progress(stderr, isatty(fileno(stderr)) == 1);
  CompareResult result =
      connection.Compare(request, [&progress](const v1::Progress& event) { progress.Update(event); });
  progress.Clear();
  return result;
}

CompareResult WatchJob(Connection& connection, const std::string& id) {
  ProgressBar progress(stderr, isatty(fileno(stderr)) == 1);
  CompareResult result = connection.WatchJob(id, [&progress](const v1::Progress& event) { progress.Update(event); });
  progress.Clear();
  return result;
}

std::string AddServerModes(Connection& connection, v1::CompareRequest* request) {
  // Which kinds of mode the model can run; an unknown model is left for the server to report.
  bool float_available = true;
  bool quantized_available = true;
  std::string why_not_quantized;
  const v1::ListModelsResponse models = connection.ListModels();
  for (const v1::ModelInfo& model : models.models()) {
    if (request->model().empty() ? model.is_default() : model.name() == request->model()) {
      float_available = model.float_available();
      quantized_available = model.quantized_available();
      why_not_quantized = model.quantization();
    }
  }
  const v1::ListModesResponse listed = connection.ListModes();
  google::protobuf::RepeatedPtrField<std::string> modes;
  std::string skipped;
  for (const v1::ModeInfo& mode : listed.modes()) {
    if (mode.name() == request->reference_mode()) continue;
    if (mode.quantized() ? !quantized_available : !float_available) {
      skipped += (skipped.empty() ? "" : ", ") + mode.name();
      continue;
    }
    *modes.Add() = mode.name();
  }
  for (const std::string& mode : request->modes()) *modes.Add() = mode;
  if (modes.empty()) {
    throw ClientError(kExitFailure, "compare-all: the server lists no mode besides the reference " +
                                        request->reference_mode() + " that the model can run");
  }
  *request->mutable_modes() = std::move(modes);
  if (skipped.empty()) return "";
  std::string note = "compare-all: leaving out " + skipped + ": the model cannot run them";
  if (!quantized_available && !why_not_quantized.empty()) note += " (W8A8: " + why_not_quantized + ")";
  return note;
}

void WriteCompareReport(const std::string& command, const CompareResult& result, const OutputOptions& output,
                        std::ostream& out) {
  const std::string text = command == "compare-all" ? AllModesReport(result) : CompareReport(result);
  Emit(text, CompareJson(command, result), output, out);
}

void WriteModes(Connection& connection, const OutputOptions& output, std::ostream& out) {
  const v1::ListModesResponse modes = connection.ListModes();
  Emit(ModesTable(modes), ModesJson(modes), output, out);
}

void WriteModels(Connection& connection, const OutputOptions& output, std::ostream& out) {
  const v1::ListModelsResponse models = connection.ListModels();
  Emit(ModelsTable(models), ModelsJson(models), output, out);
}

void WritePoints(Connection& connection, const OutputOptions& output, std::ostream& out) {
  const v1::ListCapturePointsResponse points = connection.ListCapturePoints();
  Emit(PointsTable(points), PointsJson(points), output, out);
}

}  // namespace layerscope::client
