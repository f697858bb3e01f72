#include "client/relations.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <set>

#include "client/commands.h"
#include "client/errors.h"
#include "client/json_report.h"

namespace layerscope::client {
namespace {

// The bounds of "tiny" and "real" are ours (MODES.md gives numbers for 0 vs 2-0 only): tiny is a quarter of the
// quantization error itself (a thousandth where only ties differ), real is a tenth of it.
const std::vector<Relation> kRelations = {
    {"0 vs 2-0: identical", "2-0", "0", "mixer_output", "mse", "max", "<", 1e-6, "", "",
     "0 vs 2-0: identical (bit for bit if the same scan is used; MSE < 1e-6 in any case)"},
    {"0 vs 2-0: identical", "2-0", "0", "ssm_output", "mse", "max", "<", 1e-6, "", "",
     "0 vs 2-0: identical (bit for bit if the same scan is used; MSE < 1e-6 in any case)"},
    {"2-1 vs 0: tiny (scan arithmetic only)", "2-1", "0", "mixer_output", "mse", "mean", "<", 0.25, "0", "fp32",
     "2-1 vs 0 and 2-2 vs 2-1: differ only by scan arithmetic: tiny"},
    {"2-2 vs 2-1: tiny (scan arithmetic only)", "2-2", "2-1", "mixer_output", "mse", "mean", "<", 0.25, "2-1", "fp32",
     "2-1 vs 0 and 2-2 vs 2-1: differ only by scan arithmetic: tiny"},
    {"2-3 vs 2-1: tiny (RNE vs RHAZ ties only)", "2-3", "2-1", "ssm_input", "mse", "mean", "<", 1e-3, "2-1", "fp32",
     "2-3 vs 2-1: differ only where RNE and RHAZ round a tie differently: tiny"},
    {"2-4 vs 2-2: a real difference", "2-4", "2-2", "ssm_output", "mse", "mean", ">", 0.1, "2-2", "fp32",
     "2-4 and 3 vs 2-2: differ where |v| > 127.5 s_u (clipping) and by the grid rounding of u"},
    {"3 vs 2-2: a real difference", "3", "2-2", "ssm_output", "mse", "mean", ">", 0.1, "2-2", "fp32",
     "2-4 and 3 vs 2-2: differ where |v| > 127.5 s_u (clipping) and by the grid rounding of u"},
    {"2-4 closer to fp32 than 2-2", "2-4", "fp32", "ssm_output", "mse", "mean", "<", 1.0, "2-2", "fp32",
     "2-4 and 3 vs 2-2: ... this is where the research expected real gains"},
    {"3 closer to fp32 than 2-2", "3", "fp32", "ssm_output", "mse", "mean", "<", 1.0, "2-2", "fp32",
     "2-4 and 3 vs 2-2: ... this is where the research expected real gains"},
};

double MetricOf(const v1::Metrics& m, const std::string& metric) {
  if (metric == "mse") return m.mse();
  if (metric == "max_abs_diff") return m.max_abs_diff();
  throw ClientError(kExitFailure, "relations: the table names an unknown metric \"" + metric + "\"");
}

}  // namespace

const std::vector<Relation>& ExpectedRelations() { return kRelations; }

RelationsReport CheckRelations(Connection& connection, const v1::CompareRequest& base) {
  // Every (mode, reference) pair and point the rows need, grouped by reference: one Compare each.
  std::map<std::string, std::set<std::string>> modes_of;
  std::set<std::string> points;
  for (const Relation& r : kRelations) {
    modes_of[r.reference].insert(r.mode);
    if (*r.scale_mode) modes_of[r.scale_reference].insert(r.scale_mode);
    points.insert(r.point);
  }
  RelationsReport report;
  std::map<std::string, CompareResult> results;  // by reference
  for (const auto& [reference, modes] : modes_of) {
    v1::CompareRequest request = base;
    request.set_reference_mode(reference);
    request.clear_modes();
    for (const std::string& mode : modes) request.add_modes(mode);
    request.clear_points();
    for (const std::string& point : points) request.add_points(point);
    CompareResult result = RunComparison(connection, request);
    report.comparisons.push_back(result.summary());
    results.emplace(reference, std::move(result));
  }
  auto combined = [&](const std::string& mode, const std::string& reference, const Relation& r) {
    const std::vector<const v1::MetricsRow*> rows = results.at(reference).Rows(mode, r.point);
    if (rows.empty())
      throw ClientError(kExitFailure, "relations: the server sent no rows for " + mode + " vs " + reference);
    double value = std::strcmp(r.over_layers, "max") == 0 ? -INFINITY : 0;
    for (const v1::MetricsRow* row : rows) {
      const double v = MetricOf(row->metrics(), r.metric);
      value = std::strcmp(r.over_layers, "max") == 0 ? std::max(value, v) : value + v / rows.size();
    }
    return value;
  };
  for (const Relation& r : kRelations) {
    RelationResult result;
    result.relation = &r;
    result.measured = combined(r.mode, r.reference, r);
    result.limit = r.bound;
    if (*r.scale_mode) {
      result.scale = combined(r.scale_mode, r.scale_reference, r);
      result.limit = r.bound * result.scale;
    }
    result.pass = std::strcmp(r.op, "<") == 0 ? result.measured < result.limit : result.measured > result.limit;
    report.results.push_back(result);
  }
  return report;
}

std::string RelationsText(const RelationsReport& report) {
  std::string text = "Expected relationships between modes (../shared/docs/MODES.md section 3)\n";
  char line[512];
  std::snprintf(line, sizeof(line), "%-42s %-13s %-5s %-12s %-36s %s\n", "relationship", "point", "over", "measured",
                "bound", "result");
  text += line;
  int failed = 0;
  for (const RelationResult& r : report.results) {
    const Relation& rel = *r.relation;
    char bound[128];
    if (*rel.scale_mode) {
      std::snprintf(bound, sizeof(bound), "%s %.3g x %.4e (%s vs %s)", rel.op, rel.bound, r.scale, rel.scale_mode,
                    rel.scale_reference);
    } else {
      std::snprintf(bound, sizeof(bound), "%s %.4e", rel.op, rel.bound);
    }
    std::snprintf(line, sizeof(line), "%-42s %-13s %-5s %-12.4e %-36s %s\n", rel.name, rel.point, rel.over_layers,
                  r.measured, bound, r.pass ? "PASS" : "FAIL");
    text += line;
    if (!r.pass) ++failed;
  }
  text += failed == 0 ? "All " + std::to_string(report.results.size()) + " relationships hold.\n"
                      : std::to_string(failed) + " of " + std::to_string(report.results.size()) +
                            " relationships do not hold.\n";
  return text;
}

nlohmann::ordered_json RelationsJson(const RelationsReport& report) {
  using Json = nlohmann::ordered_json;
  Json relations = Json::array();
  for (const RelationResult& r : report.results) {
    const Relation& rel = *r.relation;
    relations.push_back(Json{{"name", rel.name},
                             {"mode", rel.mode},
                             {"reference", rel.reference},
                             {"point", rel.point},
                             {"metric", rel.metric},
                             {"over_layers", rel.over_layers},
                             {"op", rel.op},
                             {"bound", rel.bound},
                             {"scale_mode", rel.scale_mode},
                             {"scale_reference", rel.scale_reference},
                             {"scale", r.scale},
                             {"limit", r.limit},
                             {"measured", r.measured},
                             {"pass", r.pass},
                             {"source", rel.source}});
  }
  Json comparisons = Json::array();
  for (const v1::CompareSummary& summary : report.comparisons) comparisons.push_back(SummaryJson(summary));
  return Json{{"schema_version", kJsonSchemaVersion},
              {"command", "relations"},
              {"relations", std::move(relations)},
              {"comparisons", std::move(comparisons)}};
}

}  // namespace layerscope::client
