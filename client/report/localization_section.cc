#include "client/report/localization_section.h"

#include <map>
#include <utility>
#include <vector>

#include "client/report/chooser.h"
#include "client/report/html_table.h"

namespace layerscope::client::report {

LineChartData StageErrorChart(const v1::ModeLocalization& mode, const v1::LayerLocalization& layer) {
  LineChartData chart;
  chart.title = "Stage errors of " + mode.mode() + " in layer " + std::to_string(layer.layer());
  chart.x_label = "stage (data-flow order)";
  chart.y_label = "relative MSE";
  chart.logarithmic_y = true;
  chart.dots = true;
  LineSeries alone{"alone, on the reference's input", {}, {}};
  LineSeries full{"in the full run", {}, {}};
  for (int i = 0; i < layer.stages_size(); ++i) {
    const v1::StageError& stage = layer.stages(i);
    chart.x_ticks.push_back({static_cast<double>(i), stage.stage()});
    alone.x.push_back(i);
    alone.y.push_back(stage.isolated());
    full.x.push_back(i);
    full.y.push_back(stage.full());
  }
  chart.series = {std::move(alone), std::move(full)};
  return chart;
}

std::string LocalizationSection(const v1::LocalizeResponse& response) {
  if (response.modes().empty()) {
    return "<p class=\"note\">No quantized mode in this report: localization isolates the stages of the W8A8 modes "
           "(composed modes are left out).</p>";
  }
  std::vector<std::pair<std::string, std::string>> modes, layers;
  std::map<int, std::vector<HtmlCell>> table;  // layer -> its row
  std::vector<std::string> header = {"Layer"};
  for (const v1::ModeLocalization& mode : response.modes()) {
    modes.emplace_back(mode.mode(), mode.mode());
    header.push_back(mode.mode() + ": born / grows");
    for (const v1::LayerLocalization& layer : mode.layers()) {
      std::vector<HtmlCell>& row = table[layer.layer()];
      if (row.empty()) {
        row.push_back(std::to_string(layer.layer()));
        layers.emplace_back(std::to_string(layer.layer()), "layer " + std::to_string(layer.layer()));
      }
      row.push_back(layer.born() + " / " + layer.grows());
    }
  }
  std::vector<std::vector<HtmlCell>> rows;
  for (auto& [layer, row] : table) rows.push_back(std::move(row));
  std::string html = HtmlTable(header, rows) + "<p>" + Chooser("localization", "mode", modes) +
                     Chooser("localization", "layer", layers) +
                     "</p><p class=\"note\">A stage whose error is 0 (it computes exactly what the reference does) "
                     "has no point on the logarithmic axis.</p>";
  for (const v1::ModeLocalization& mode : response.modes()) {
    for (const v1::LayerLocalization& layer : mode.layers()) {
      html += ChoosableFigure("localization", {mode.mode(), std::to_string(layer.layer())},
                              LineChartSvg(StageErrorChart(mode, layer)));
    }
  }
  return html;
}

}  // namespace layerscope::client::report
