// `layerscope relations`: the research's expected relationships between modes (../shared/docs/MODES.md §3) checked
// on a server. The relationships are data: one Relation per row, each a bound on one metric of a mode against a
// reference at one capture point, over the compared layers, absolute or relative to another pair's value. The
// command runs the comparisons the rows need (one Compare per reference mode) and reports each row's measured
// value against its bound, PASS or FAIL; any FAIL makes the exit code 4, as a matched --fail-if does
// (client/FAIL_IF.md).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "client/connection.h"
#include "layerscope/v1/layerscope.pb.h"

namespace layerscope::client {

struct Relation {
  const char* name;         // "0 vs 2-0: identical"
  const char* mode;         // the mode compared ...
  const char* reference;    // ... against this reference
  const char* point;        // capture point
  const char* metric;       // a Metrics field: "mse" or "max_abs_diff"
  const char* over_layers;  // how the per-layer values combine: "max" or "mean"
  const char* op;           // "<" or ">"
  double bound;
  // Empty: `bound` is absolute. Otherwise the bound is `bound` times the same metric, combined the same way, of
  // scale_mode against scale_reference at the same point (e.g. "a quarter of mode 0's error against fp32").
  const char* scale_mode;
  const char* scale_reference;
  const char* source;  // the sentence of MODES.md §3 the row checks
};

// The table, in the order MODES.md lists the relationships.
const std::vector<Relation>& ExpectedRelations();

struct RelationResult {
  const Relation* relation = nullptr;
  double measured = 0;
  double scale = 0;  // the scale pair's value (0 when the bound is absolute)
  double limit = 0;  // bound, or bound × scale
  bool pass = false;
};

struct RelationsReport {
  std::vector<RelationResult> results;          // ExpectedRelations() order
  std::vector<v1::CompareSummary> comparisons;  // what ran, one per reference mode
};

// Runs the comparisons `base` (model, layers, data and sizes; its modes, reference and points are replaced) needs
// and checks every row. Throws ClientError.
RelationsReport CheckRelations(Connection& connection, const v1::CompareRequest& base);

// One line per row: name, measured value, the limit, PASS or FAIL, the source.
std::string RelationsText(const RelationsReport& report);
// The `relations` document of client/JSON_SCHEMA.md.
nlohmann::ordered_json RelationsJson(const RelationsReport& report);

}  // namespace layerscope::client
