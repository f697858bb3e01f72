// HtmlReport: the whole report of `layerscope report --html` as one self-contained HTML document: the summary
// tables, the layers x modes heatmaps, the |d| distributions, the per-channel errors, the localization chart and the
// model-level table. A section whose data the server could not give says so, with the server's answer, in its place.
#pragma once

#include <string>

#include "client/report/report_data.h"

namespace layerscope::client::report {

std::string HtmlReport(const ReportData& data);

}  // namespace layerscope::client::report
