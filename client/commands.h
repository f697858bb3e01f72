// The subcommands' work once the command line is parsed: ask the server, then write the report. A comparison is
// fetched whole into a CompareResult before anything is printed, so a failure mid-stream prints no partial table
// and every consumer of the result (text report, --json, and later gates, saved files, HTML) sees the same data.
// Everything here throws ClientError; the CLI turns it into the error line and the exit code.
#pragma once

#include <nlohmann/json.hpp>
#include <ostream>
#include <string>

#include "client/compare_result.h"
#include "client/connection.h"
#include "layerscope/v1/layerscope.pb.h"

namespace layerscope::client {

// Where --json sends the document: empty: nowhere (the text report goes to `out`); "-": to `out` instead of the
// text report; a path: to that file, and the text report still goes to `out`.
struct OutputOptions {
  std::string json_path;
};

// Writes `text` to `out` and `json` where `output` says (see OutputOptions).
void Emit(const std::string& text, const nlohmann::ordered_json& json, const OutputOptions& output, std::ostream& out);

// Runs `request`, with a progress bar on stderr when stderr is a terminal.
CompareResult RunComparison(Connection& connection, const v1::CompareRequest& request);
// `watch ID`: the job's result from its beginning, as RunComparison gives it (waiting for the job to finish).
CompareResult WatchJob(Connection& connection, const std::string& id);

// `compare-all`: puts every mode the server lists, except the request's reference and those the request's model
// cannot run (the W8A8 modes of a model the server did not quantize), in front of the request's modes (the
// composed ones). Returns a note naming the modes left out, empty when none was. Throws when no mode is left.
std::string AddServerModes(Connection& connection, v1::CompareRequest* request);

// The report of `command` ("compare" or "compare-all") for `result`, as `output` says.
void WriteCompareReport(const std::string& command, const CompareResult& result, const OutputOptions& output,
                        std::ostream& out);

// `modes`, `models`, `points`: the server's lists.
void WriteModes(Connection& connection, const OutputOptions& output, std::ostream& out);
void WriteModels(Connection& connection, const OutputOptions& output, std::ostream& out);
void WritePoints(Connection& connection, const OutputOptions& output, std::ostream& out);

}  // namespace layerscope::client
