// ReportData: everything one HTML report shows, fetched from the server before any of it is written: the
// comparison, and the analyses of the Analysis service. An analysis the server could not give (one that does not
// implement the service, or failed it) carries the server's status instead, which the report prints in place of
// that section: a report never shows a section without the data behind it.
#pragma once

#include <optional>
#include <string>
#include <utility>

#include "client/compare_result.h"
#include "layerscope/v1/analysis.pb.h"

namespace layerscope::client::report {

template <typename Response>
struct Fetched {
  std::optional<Response> response;
  std::string unavailable;  // why there is no response: the failed call's error
};

struct ReportData {
  explicit ReportData(CompareResult comparison) : comparison(std::move(comparison)) {}

  CompareResult comparison;
  Fetched<v1::BreakdownResponse> breakdowns;
  Fetched<v1::ModelEffectResponse> model_effect;
  Fetched<v1::LocalizeResponse> localization;  // of the report's quantized modes
};

}  // namespace layerscope::client::report
