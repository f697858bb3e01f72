#include "client/localize.h"

#include <cstdio>

#include "client/json_report.h"

namespace layerscope::client {

std::string LocalizeText(const v1::LocalizeResponse& response) {
  const v1::CompareSummary& summary = response.summary();
  std::string text;
  char line[256];
  for (const v1::ModeLocalization& mode : response.modes()) {
    text += "Error localization: mode " + mode.mode() + " vs " + summary.reference_mode() + " (relative MSE of each " +
            "stage's output; isolated: the stage alone on " + summary.reference_mode() + "'s input)\n";
    for (const v1::LayerLocalization& layer : mode.layers()) {
      std::snprintf(line, sizeof(line), "\nLayer %d: born at %s, grows most at %s\n", layer.layer(),
                    layer.born().c_str(), layer.grows().c_str());
      text += line;
      std::snprintf(line, sizeof(line), "  %-10s %-16s %12s %12s\n", "stage", "output", "isolated", "full run");
      text += line;
      for (const v1::StageError& stage : layer.stages()) {
        std::string marks;
        if (stage.stage() == layer.born()) marks += "  <- born";
        if (stage.stage() == layer.grows()) marks += "  <- grows";
        std::snprintf(line, sizeof(line), "  %-10s %-16s %12.4e %12.4e%s\n", stage.stage().c_str(),
                      stage.point().c_str(), stage.isolated(), stage.full(), marks.c_str());
        text += line;
      }
    }
    text += "\n";
  }
  return text;
}

nlohmann::ordered_json LocalizeJson(const v1::LocalizeResponse& response) {
  using Json = nlohmann::ordered_json;
  Json modes = Json::array();
  for (const v1::ModeLocalization& mode : response.modes()) {
    Json layers = Json::array();
    for (const v1::LayerLocalization& layer : mode.layers()) {
      Json stages = Json::array();
      for (const v1::StageError& stage : layer.stages()) {
        stages.push_back(Json{{"stage", stage.stage()},
                              {"point", stage.point()},
                              {"isolated", stage.isolated()},
                              {"full", stage.full()}});
      }
      layers.push_back(Json{
          {"layer", layer.layer()}, {"born", layer.born()}, {"grows", layer.grows()}, {"stages", std::move(stages)}});
    }
    modes.push_back(Json{{"mode", mode.mode()}, {"layers", std::move(layers)}});
  }
  return Json{{"schema_version", kJsonSchemaVersion},
              {"command", "localize"},
              {"summary", SummaryJson(response.summary())},
              {"modes", std::move(modes)}};
}

}  // namespace layerscope::client
