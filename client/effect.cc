#include "client/effect.h"

#include <vector>

#include "client/errors.h"
#include "client/json_report.h"
#include "client/text_format.h"

namespace layerscope::client {
namespace {

// The mode's row in `layer_errors` (one layer, one point: the request the client made). Throws when the server
// sent none, which a complete comparison never does.
const v1::MetricsRow& LayerRow(const CompareResult& layer_errors, const std::string& mode) {
  for (const v1::MetricsRow& row : layer_errors.rows()) {
    if (row.mode() == mode) return row;
  }
  throw ClientError(kExitFailure, "effect: the comparison of the last layer has no row of mode " + mode);
}

}  // namespace

std::string EffectText(const v1::ModelEffectResponse& response, const CompareResult& layer_errors) {
  const v1::CompareSummary& summary = response.summary();
  const v1::CompareSummary& layer_summary = layer_errors.summary();
  const std::string layer_column =
      "layer " + std::to_string(layer_summary.layers(0)) + " " + layer_summary.points(0) + " rel. MSE";
  std::vector<std::vector<std::string>> rows;
  for (const v1::ModeEffect& effect : response.effects()) {
    rows.push_back({effect.mode(), Format("%.4e", LayerRow(layer_errors, effect.mode()).metrics().relative_mse()),
                    Format("%.4e", effect.kl_mean()), Format("%.4e", effect.kl_max()),
                    Format("%.4f", effect.top1_agreement()), Format("%.4f", effect.perplexity()),
                    Format("%+.4f", effect.perplexity() - response.reference_perplexity())});
  }
  return Format("Model-level effect vs %s: %d samples x %d tokens, next-token positions %lld; %s perplexity %.4f\n",
                summary.reference_mode().c_str(), summary.samples(), summary.seq_len(),
                static_cast<long long>(response.reference_positions()), summary.reference_mode().c_str(),
                response.reference_perplexity()) +
         TextTable({"mode", layer_column, "KL mean (nats)", "KL max", "top-1 agree", "perplexity", "ppl change"}, rows);
}

nlohmann::ordered_json EffectJson(const v1::ModelEffectResponse& response, const CompareResult& layer_errors) {
  using Json = nlohmann::ordered_json;
  Json effects = Json::array();
  for (const v1::ModeEffect& effect : response.effects()) {
    effects.push_back(Json{{"mode", effect.mode()},
                           {"kl_mean", effect.kl_mean()},
                           {"kl_max", effect.kl_max()},
                           {"top1_agreement", effect.top1_agreement()},
                           {"perplexity", effect.perplexity()},
                           {"positions", effect.positions()},
                           {"nonfinite_positions", effect.nonfinite_positions()},
                           {"layer_relative_mse", LayerRow(layer_errors, effect.mode()).metrics().relative_mse()}});
  }
  const v1::CompareSummary& layer_summary = layer_errors.summary();
  return Json{{"schema_version", kJsonSchemaVersion},
              {"command", "effect"},
              {"summary", SummaryJson(response.summary())},
              {"reference_perplexity", response.reference_perplexity()},
              {"reference_positions", response.reference_positions()},
              {"layer", layer_summary.layers(0)},
              {"point", layer_summary.points(0)},
              {"effects", std::move(effects)}};
}

}  // namespace layerscope::client
