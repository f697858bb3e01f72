#include "client/report/model_effect_section.h"

#include <vector>

#include "client/report/html_escape.h"
#include "client/report/html_table.h"
#include "client/text_format.h"

namespace layerscope::client::report {

std::string ModelEffectSection(const v1::ModelEffectResponse& effect, const CompareResult& comparison) {
  const v1::CompareSummary& summary = comparison.summary();
  // The layer's output when it was compared (the error the next layer gets), else the last point compared.
  std::string point = summary.points().empty() ? std::string() : summary.points(summary.points_size() - 1);
  for (const std::string& compared : summary.points()) {
    if (compared == "mixer_output") point = compared;
  }
  std::vector<std::vector<HtmlCell>> rows;
  rows.push_back({effect.summary().reference_mode() + " (reference)", "0", "0", "100.00%",
                  Format("%.4f", effect.reference_perplexity()), "", "", std::to_string(effect.reference_positions())});
  for (const v1::ModeEffect& mode : effect.effects()) {
    const std::vector<const v1::MetricsRow*> layers = comparison.Rows(mode.mode(), point);
    std::string positions = std::to_string(mode.positions());
    if (mode.nonfinite_positions() > 0)
      positions += Format(" (%lld not finite)", (long long)mode.nonfinite_positions());
    rows.push_back({mode.mode(), Format("%.6e", mode.kl_mean()), Format("%.6e", mode.kl_max()),
                    Format("%.2f%%", mode.top1_agreement() * 100), Format("%.4f", mode.perplexity()),
                    Format("%+.4f", mode.perplexity() - effect.reference_perplexity()),
                    layers.empty() ? std::string("-") : Format("%.6e", layers.back()->metrics().mse()), positions});
  }
  const std::string mse_column = point.empty() ? std::string("Last layer MSE") : "Last layer MSE at " + point;
  return HtmlTable({"Mode", "KL mean (nats)", "KL max", "Top-1 agreement", "Perplexity", "Δ perplexity", mse_column,
                    "Positions"},
                   rows) +
         "<p class=\"note\">" +
         EscapeHtml(Format("Over %d samples of %d tokens: every position with a next token in the data.",
                           effect.summary().samples(), effect.summary().seq_len())) +
         "</p>";
}

}  // namespace layerscope::client::report
