#include "client/report/breakdown_choosers.h"

#include <algorithm>
#include <utility>

#include "client/report/chooser.h"

namespace layerscope::client::report {
namespace {

void AddOnce(std::vector<std::pair<std::string, std::string>>* options, const std::string& value,
             const std::string& text) {
  const auto same = [&](const std::pair<std::string, std::string>& option) { return option.first == value; };
  if (std::none_of(options->begin(), options->end(), same)) options->emplace_back(value, text);
}

}  // namespace

std::string BreakdownChoosers(const std::string& group, const v1::BreakdownResponse& response) {
  std::vector<std::pair<std::string, std::string>> modes, layers, points;
  for (const v1::ErrorBreakdown& breakdown : response.breakdowns()) {
    AddOnce(&modes, breakdown.mode(), breakdown.mode());
    AddOnce(&layers, std::to_string(breakdown.layer()), "layer " + std::to_string(breakdown.layer()));
    AddOnce(&points, breakdown.point(), breakdown.point());
  }
  return "<p>" + Chooser(group, "mode", modes) + Chooser(group, "layer", layers) + Chooser(group, "point", points) +
         "</p>";
}

std::vector<std::string> BreakdownKey(const v1::ErrorBreakdown& breakdown) {
  return {breakdown.mode(), std::to_string(breakdown.layer()), breakdown.point()};
}

std::string BreakdownName(const v1::ErrorBreakdown& breakdown) {
  return breakdown.mode() + ", layer " + std::to_string(breakdown.layer()) + ", " + breakdown.point();
}

}  // namespace layerscope::client::report
