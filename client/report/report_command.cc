#include "client/report/report_command.h"

#include <cstdio>
#include <fstream>
#include <set>

#include "client/commands.h"
#include "client/compare_options.h"
#include "client/errors.h"
#include "client/report/html_report.h"

namespace layerscope::client::report {
namespace {

// Calls `call`; a failure that is neither the request's fault nor an unreachable server becomes the section's
// "not available" note instead of failing the whole report.
template <typename Response, typename Call>
Fetched<Response> FetchOrExplain(const std::string& what, const Call& call, std::ostream& err) {
  Fetched<Response> fetched;
  try {
    fetched.response = call();
  } catch (const ClientError& e) {
    if (e.code() != kExitFailure) throw;
    fetched.unavailable = e.what();
    err << "layerscope: note: report: no " << what << " in the report: " << e.what() << "\n";
  }
  return fetched;
}

}  // namespace

std::vector<int> ParseDetailLayers(const std::string& text) {
  try {
    return ParseLayers(text);
  } catch (const ClientError& e) {
    // ParseLayers names --layers, whose syntax this option shares.
    const std::string message = e.what();
    throw ClientError(kExitUsage, "--detail-layers" + message.substr(message.find(':')));
  }
}

ReportData FetchReportData(Connection& connection, const v1::CompareRequest& request, const ReportOptions& options,
                           std::ostream& err) {
  ReportData data(RunComparison(connection, request));

  v1::BreakdownRequest breakdown;
  *breakdown.mutable_comparison() = request;
  breakdown.mutable_comparison()->clear_layers();
  for (const int layer : options.detail_layers) breakdown.mutable_comparison()->add_layers(layer);
  breakdown.mutable_comparison()->clear_points();
  if (options.detail_points.empty()) {
    *breakdown.mutable_comparison()->mutable_points() = data.comparison.summary().points();
  } else {
    for (const std::string& point : options.detail_points) breakdown.mutable_comparison()->add_points(point);
  }
  data.breakdowns = FetchOrExplain<v1::BreakdownResponse>(
      "breakdowns", [&] { return connection.Breakdown(breakdown); }, err);

  v1::ModelEffectRequest effect;
  *effect.mutable_comparison() = request;
  effect.mutable_comparison()->clear_layers();
  effect.mutable_comparison()->clear_points();
  data.model_effect = FetchOrExplain<v1::ModelEffectResponse>(
      "model-level effect", [&] { return connection.ModelEffect(effect); }, err);

  // Localization isolates quantized stages: only the server's W8A8 modes have them (a composed mode's stages are
  // not known here, and the server refuses a float mode).
  std::set<std::string> quantized;
  const v1::ListModesResponse listed = connection.ListModes();
  for (const v1::ModeInfo& mode : listed.modes()) {
    if (mode.quantized()) quantized.insert(mode.name());
  }
  v1::LocalizeRequest localize;
  *localize.mutable_comparison() = request;
  localize.mutable_comparison()->clear_modes();
  localize.mutable_comparison()->clear_custom_modes();
  localize.mutable_comparison()->clear_points();
  for (const std::string& mode : data.comparison.summary().modes()) {
    if (quantized.count(mode) > 0) localize.mutable_comparison()->add_modes(mode);
  }
  if (localize.comparison().modes().empty()) {
    data.localization.response.emplace();
  } else {
    data.localization = FetchOrExplain<v1::LocalizeResponse>(
        "localization", [&] { return connection.Localize(localize); }, err);
  }
  return data;
}

void RunReport(Connection& connection, v1::CompareRequest request, bool every_mode, const ReportOptions& options,
               std::ostream& out, std::ostream& err) {
  // Written next to the destination and renamed into place at the end: a failed run leaves no partial page behind
  // (and an earlier report at the path as it was).
  const std::string partial = options.html_path + ".partial";
  std::ofstream file(partial, std::ios::binary | std::ios::trunc);
  if (!file) throw ClientError(kExitFailure, "--html: cannot write " + options.html_path);
  try {
    if (every_mode) {
      const std::string note = AddServerModes(connection, &request);
      if (!note.empty()) err << "layerscope: note: " << note << "\n";
    }
    file << HtmlReport(FetchReportData(connection, request, options, err));
    file.close();
    if (!file || std::rename(partial.c_str(), options.html_path.c_str()) != 0) {
      throw ClientError(kExitFailure, "--html: cannot write " + options.html_path);
    }
  } catch (...) {
    std::remove(partial.c_str());
    throw;
  }
  out << "Report written to " << options.html_path << "\n";
}

}  // namespace layerscope::client::report
