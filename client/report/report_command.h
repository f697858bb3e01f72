// `layerscope report --html FILE`: runs the comparison (every mode the server offers unless modes are named, as
// compare-all does), the breakdowns of the chosen (mode, layer, point)s, the localization of its quantized modes and
// the model-level effect on the same data, and writes them as one self-contained HTML file
// (client/report/html_report.h).
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "client/connection.h"
#include "client/report/report_data.h"
#include "layerscope/v1/layerscope.pb.h"

namespace layerscope::client::report {

struct ReportOptions {
  std::string html_path;  // --html
  // --detail-layers: the layers whose captures get a |d| histogram and per-channel plots (negative: from the end).
  std::vector<int> detail_layers = {-1};
  // --detail-points: their points; empty: every point of the comparison.
  std::vector<std::string> detail_points;
};

// A --detail-layers value, as ParseLayers reads --layers. Throws ClientError (kExitUsage) naming --detail-layers.
std::vector<int> ParseDetailLayers(const std::string& text);

// Asks the server for everything the report shows about `request`. An analysis call that fails for a reason other
// than the request (a server without the Analysis service, or one that failed it) leaves its section unavailable,
// with the error, and says so on `err`; a bad request or an unreachable server throws ClientError as compare does.
ReportData FetchReportData(Connection& connection, const v1::CompareRequest& request, const ReportOptions& options,
                           std::ostream& err);

// The subcommand: runs `request` (first adding every mode the server offers, as compare-all does, when
// `every_mode`), fetches the rest and writes the report to options.html_path, saying so on `out`. The file is
// created before anything runs, so a path that cannot be written costs no comparison; a run that fails leaves none.
// Throws ClientError.
void RunReport(Connection& connection, v1::CompareRequest request, bool every_mode, const ReportOptions& options,
               std::ostream& out, std::ostream& err);

}  // namespace layerscope::client::report
