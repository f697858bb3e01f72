#include "client/compare_report.h"

#include <cctype>
#include <optional>

#include "client/text_format.h"
#include "core/metrics/ratings.h"

namespace layerscope::client {
namespace {

constexpr int kDetailWidth = 80;     // the seed's rulers around detail blocks and the layer summary
constexpr int kAllModesWidth = 100;  // the seed's rulers around the all-modes table

std::string Rated(const std::string& rating) { return "  [" + rating + "]"; }

std::string UpperCase(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::string Percent(double fraction) { return Format("%6.3f%%", fraction * 100); }

// "[0, 5]", Python's rendering of a list of layers, as the seed printed "Available layers".
std::string LayerList(const std::vector<const v1::MetricsRow*>& rows) {
  std::string out = "[";
  for (size_t i = 0; i < rows.size(); ++i) out += (i ? ", " : "") + std::to_string(rows[i]->layer());
  return out + "]";
}

std::string ModelLine(const v1::CompareSummary& summary) {
  return Format("Model: %s on %s, %d samples of %d tokens\n", summary.model().c_str(), summary.device().c_str(),
                summary.samples(), summary.seq_len());
}

// "Server time: 1.234 s (forward fp32 0.100 s, ..., metrics 0.500 s)": where the server's time went.
std::string ServerTimeLine(const v1::CompareSummary& summary) {
  std::string stages;
  for (const v1::StageTime& t : summary.stages()) {
    stages += Format("%s%s %.3f s", stages.empty() ? "" : ", ", t.stage().c_str(), t.seconds());
  }
  return Format("Server time: %.3f s", summary.server_seconds()) + (stages.empty() ? "" : " (" + stages + ")") + "\n";
}

std::string CorrelationCell(const std::optional<double>& correlation) {
  return correlation ? Format("%.6f", *correlation) : std::string("undefined");
}

}  // namespace

std::string LayerDetailBlock(const v1::MetricsRow& row, const std::string& reference_mode) {
  const v1::Metrics& m = row.metrics();
  const std::string ref = UpperCase(reference_mode);
  std::string out = "\n" + Ruler('=', kDetailWidth);
  out += Format("Layer %d - Comparison Results\n", row.layer());
  out += Ruler('=', kDetailWidth);

  out += "\n" + ref + " Reference Statistics:\n";
  out += Format("  Mean:  %12.6f\n", m.ref_mean());
  out += Format("  Std:   %12.6f\n", m.ref_std());
  out += Format("  Range: [%10.6f, %10.6f]\n", m.ref_min(), m.ref_max());

  out += "\nMode Output Statistics:\n";
  out += Format("  Mean:  %12.6f\n", m.mode_mean());
  out += Format("  Std:   %12.6f\n", m.mode_std());
  out += Format("  Range: [%10.6f, %10.6f]\n", m.mode_min(), m.mode_max());

  out += "\nDifference (Mode - " + ref + "):\n";
  out += Format("  Mean Diff:     %12.6f\n", m.diff_mean());
  out += Format("  Std Diff:      %12.6f\n", m.diff_std());
  out += Format("  Mean Abs Diff: %12.6f\n", m.mean_abs_diff());
  out += Format("  Max Abs Diff:  %12.6f\n", m.max_abs_diff());

  out += "\nError Metrics:\n";
  out += Format("  MSE:           %12.6e", m.mse()) + Rated(RateMse(m.mse())) + "\n";
  out += Format("  RMSE:          %12.6f\n", m.rmse());
  out += Format("  MAE:           %12.6f\n", m.mae());

  out += "\nRelative Metrics:\n";
  out += Format("  Relative MSE:  %12.6e (", m.relative_mse()) + Percent(m.relative_mse()) + ")\n";
  out += Format("  Relative MAE:  %12.6e (", m.relative_mae()) + Percent(m.relative_mae()) + ")" +
         Rated(RateRelativeMae(m.relative_mae())) + "\n";
  if (const std::optional<double> correlation = CorrelationOf(m)) {
    out += Format("  Correlation:   %12.6f", *correlation) + Rated(RateCorrelation(correlation)) + "\n";
  } else {
    out += "  Correlation:   undefined (constant input)\n";
  }

  out += "\nAbsolute Difference Percentiles";
  if (!m.percentiles_exact()) {
    out += Format(" (estimated, relative error <= %.1e)", m.percentile_relative_error());
  }
  out += ":\n";
  out += Format("  50th (Median): %12.6f\n", m.p50());
  out += Format("  90th:          %12.6f\n", m.p90());
  out += Format("  95th:          %12.6f\n", m.p95());
  out += Format("  99th:          %12.6f\n", m.p99());

  out += "\nAdditional Metrics:\n";
  if (m.has_sqnr_db()) {
    out += Format("  SQNR:          %12.6f dB\n", m.sqnr_db());
  } else {
    out += "  SQNR:          infinite (identical)\n";
  }
  if (m.has_cosine()) {
    out += Format("  Cosine:        %12.6f\n", m.cosine());
  } else {
    out += "  Cosine:        undefined (zero input)\n";
  }
  out += Format("  Elements:      %12lld\n", static_cast<long long>(m.count()));
  // Non-finite values are excluded from every metric above; say so only when it happened.
  if (m.nonfinite_ref() != 0) out += Format("  NaN/Inf ref:   %12lld\n", static_cast<long long>(m.nonfinite_ref()));
  if (m.nonfinite_mode() != 0) {
    out += Format("  NaN/Inf mode:  %12lld\n", static_cast<long long>(m.nonfinite_mode()));
  }
  out += Ruler('=', kDetailWidth);
  return out;
}

std::string LayerSummary(const std::vector<const v1::MetricsRow*>& rows) {
  static const std::vector<size_t> kWidths = {10, 15, 12, 12, 12};
  std::string out = "\n\n" + Ruler('=', kDetailWidth) + "SUMMARY - All Layers\n" + Ruler('=', kDetailWidth);
  out += "\n" + TableLine({"Layer", "MSE", "RMSE", "MAE", "Correlation"}, kWidths);
  out += Ruler('-', kDetailWidth);
  for (const v1::MetricsRow* row : rows) {
    const v1::Metrics& m = row->metrics();
    out += TableLine({std::to_string(row->layer()), Format("%.6e", m.mse()), Format("%.6f", m.rmse()),
                      Format("%.6f", m.mae()), CorrelationCell(CorrelationOf(m))},
                     kWidths);
  }
  out += Ruler('=', kDetailWidth);

  const LayerAverages avg = AverageOverLayers(rows);
  out += "\nAverage across all layers:\n";
  out += Format("  MSE:         %.6e", avg.mse) + Rated(RateMse(avg.mse)) + "\n";
  out += Format("  MAE:         %.6f\n", avg.mae);
  if (avg.correlation) {
    out += Format("  Correlation: %.6f", *avg.correlation) + Rated(RateCorrelation(avg.correlation));
    if (avg.correlation_layers < avg.layers) {
      out += Format(" (over %d of %d layers; undefined in the others)", avg.correlation_layers, avg.layers);
    }
    out += "\n";
  } else {
    out += "  Correlation: undefined (constant input)\n";
  }
  out += Format("  Rel. MAE:    %.6e (%.3f%%)", avg.relative_mae, avg.relative_mae * 100) +
         Rated(RateRelativeMae(avg.relative_mae)) + "\n";
  return out;
}

std::string CompareReport(const CompareResult& result) {
  const v1::CompareSummary& summary = result.summary();
  std::string out;
  for (const std::string& mode : summary.modes()) {
    for (const std::string& point : summary.points()) {
      const std::vector<const v1::MetricsRow*> rows = result.Rows(mode, point);
      out += "\n" + Ruler('=', kDetailWidth);
      out += Format("Comparing Mode '%s' vs Reference '%s' at point '%s'\n", mode.c_str(),
                    summary.reference_mode().c_str(), point.c_str());
      out += ModelLine(summary);
      out += Ruler('=', kDetailWidth);
      out += "\nLayers: " + LayerList(rows) + "\n";
      for (const v1::MetricsRow* row : rows) out += LayerDetailBlock(*row, summary.reference_mode());
      out += LayerSummary(rows);
      out += "\n" + Ruler('=', kDetailWidth) + "\n";
    }
  }
  return out + ServerTimeLine(summary);
}

std::string AllModesReport(const CompareResult& result) {
  static const std::vector<size_t> kTableWidths = {10, 15, 12, 15, 15, 12};
  static const std::vector<size_t> kRatingWidths = {10, 15, 15, 12, 18};
  const v1::CompareSummary& summary = result.summary();
  std::string modes;
  for (const std::string& mode : summary.modes()) modes += (modes.empty() ? "" : ", ") + mode;

  std::string out = "\n" + Ruler('=', kAllModesWidth);
  out += Format("Comparing all modes vs Reference '%s': %s\n", summary.reference_mode().c_str(), modes.c_str());
  out += ModelLine(summary);
  out += Ruler('=', kAllModesWidth);

  for (const std::string& point : summary.points()) {
    std::string table;
    std::string ratings;
    std::optional<std::string> best_mode;
    double best_mse = 0;
    std::optional<int> first_layer, last_layer;
    for (const std::string& mode : summary.modes()) {
      const std::vector<const v1::MetricsRow*> rows = result.Rows(mode, point);
      if (rows.empty()) {
        table += TableLine({mode, "N/A", "N/A", "N/A", "N/A", "N/A"}, kTableWidths);
        ratings += TableLine({mode, "N/A", "N/A", "N/A", "N/A"}, kRatingWidths);
        continue;
      }
      const v1::Metrics& first = rows.front()->metrics();
      const v1::Metrics& last = rows.back()->metrics();
      const LayerAverages avg = AverageOverLayers(rows);
      first_layer = rows.front()->layer();
      last_layer = rows.back()->layer();
      table += TableLine({mode, Format("%.6e", first.mse()), Format("%.6f", first.mae()), Format("%.6e", last.mse()),
                          Format("%.6f", last.mae()), CorrelationCell(avg.correlation)},
                         kTableWidths);
      ratings += TableLine({mode, RateMse(first.mse()), RateMse(last.mse()), RateCorrelation(avg.correlation),
                            RateRelativeMae(last.relative_mae()) + Format(" (%.3f%%)", last.relative_mae() * 100)},
                           kRatingWidths);
      if (!best_mode || last.mse() < best_mse) {
        best_mode = mode;
        best_mse = last.mse();
      }
    }

    out += "\n" + Ruler('=', kAllModesWidth);
    out += "SUMMARY TABLE - All Modes vs " + summary.reference_mode() + "\n";
    out += "Point: " + point;
    if (first_layer) out += Format(" (Layer 0 = layer %d, Last Layer = layer %d)", *first_layer, *last_layer);
    out += "\n" + Ruler('=', kAllModesWidth);
    out += "\n" + TableLine({"Mode", "Layer 0 MSE", "Layer 0 MAE", "Last Layer MSE", "Last Layer MAE", "Avg Corr"},
                            kTableWidths);
    out += Ruler('-', kAllModesWidth) + table + Ruler('=', kAllModesWidth);
    out += "\nRatings:\n";
    out += TableLine({"Mode", "Layer 0 MSE", "Last Layer MSE", "Avg Corr", "Last Layer Rel MAE"}, kRatingWidths);
    out += Ruler('-', kAllModesWidth) + ratings + Ruler('=', kAllModesWidth);
    if (best_mode) {
      out += Format("\nBest mode (lowest last layer MSE): %s (%.6e)\n", best_mode->c_str(), best_mse);
    }
  }
  return out + "\n" + ServerTimeLine(summary);
}

}  // namespace layerscope::client
