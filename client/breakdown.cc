#include "client/breakdown.h"

#include <algorithm>
#include <fstream>
#include <numeric>
#include <vector>

#include "client/errors.h"
#include "client/json_report.h"
#include "client/npy.h"
#include "client/text_format.h"

namespace layerscope::client {
namespace {

// The indices of the `rows` largest MSEs of `profile`, largest first (ties: lower index first).
std::vector<int> WorstByMse(const v1::ErrorProfile& profile, int rows) {
  std::vector<int> order(profile.mse_size());
  std::iota(order.begin(), order.end(), 0);
  const size_t k = std::min(order.size(), static_cast<size_t>(std::max(rows, 0)));
  std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](int a, int b) {
    return profile.mse(a) != profile.mse(b) ? profile.mse(a) > profile.mse(b) : a < b;
  });
  order.resize(k);
  return order;
}

std::string ProfileTable(const char* title, const char* index_name, const v1::ErrorProfile& profile, int rows) {
  std::vector<std::vector<std::string>> table;
  for (int i : WorstByMse(profile, rows)) {
    table.push_back({"  " + std::to_string(i), Format("%.4e", profile.mse(i)), Format("%.4e", profile.max_abs(i))});
  }
  return Format("  %s (worst %zu of %d by MSE):\n", title, table.size(), profile.mse_size()) +
         TextTable({std::string("  ") + index_name, "MSE", "max |d|"}, table);
}

nlohmann::ordered_json ProfileJson(const v1::ErrorProfile& profile) {
  return {{"mse", std::vector<double>(profile.mse().begin(), profile.mse().end())},
          {"max_abs", std::vector<double>(profile.max_abs().begin(), profile.max_abs().end())},
          {"count", std::vector<int64_t>(profile.count().begin(), profile.count().end())}};
}

}  // namespace

std::string BreakdownText(const v1::BreakdownResponse& response, int rows) {
  std::string text;
  for (const v1::ErrorBreakdown& b : response.breakdowns()) {
    text += Format("Breakdown: mode %s vs %s, layer %d, %s: MSE %.4e, max |d| %.4e over %lld values\n",
                   b.mode().c_str(), response.summary().reference_mode().c_str(), b.layer(), b.point().c_str(), b.mse(),
                   b.max_abs(), static_cast<long long>(b.count()));
    std::vector<std::vector<std::string>> channels;
    for (const v1::ChannelOutlier& c : b.top_channels()) {
      if (static_cast<int>(channels.size()) == rows) break;
      channels.push_back({"  " + std::to_string(c.channel()), Format("%.4e", c.mse()), Format("%.4e", c.max_abs()),
                          Format("%.4e", c.ref_rms())});
    }
    text += Format("  Outlier channels (top %zu of %lld by MSE):\n", channels.size(),
                   static_cast<long long>(b.channels())) +
            TextTable({"  channel", "MSE", "max |d|", "ref RMS"}, channels);
    text += ProfileTable("Samples", "sample", b.per_sample(), rows);
    text += ProfileTable("Token positions", "position", b.per_position(), rows);
    std::string percentiles;
    for (const v1::Percentile& p : b.histogram().percentiles()) {
      percentiles += Format("%sp%g %.4e", percentiles.empty() ? "" : ", ", p.q(), p.value());
    }
    text += "  |d| percentiles: " + percentiles +
            Format("; %lld exactly 0\n\n", static_cast<long long>(b.histogram().zeros()));
  }
  return text;
}

nlohmann::ordered_json BreakdownJson(const v1::BreakdownResponse& response) {
  using Json = nlohmann::ordered_json;
  Json breakdowns = Json::array();
  for (const v1::ErrorBreakdown& b : response.breakdowns()) {
    Json channels = Json::array();
    for (const v1::ChannelOutlier& c : b.top_channels()) {
      channels.push_back(
          Json{{"channel", c.channel()}, {"mse", c.mse()}, {"max_abs", c.max_abs()}, {"ref_rms", c.ref_rms()}});
    }
    Json percentiles = Json::array();
    for (const v1::Percentile& p : b.histogram().percentiles()) {
      percentiles.push_back(Json{{"q", p.q()}, {"value", p.value()}});
    }
    const v1::AbsDiffHistogram& h = b.histogram();
    breakdowns.push_back(Json{{"mode", b.mode()},
                              {"layer", b.layer()},
                              {"point", b.point()},
                              {"channels", b.channels()},
                              {"mse", b.mse()},
                              {"max_abs", b.max_abs()},
                              {"count", b.count()},
                              {"per_sample", ProfileJson(b.per_sample())},
                              {"per_position", ProfileJson(b.per_position())},
                              {"per_channel", ProfileJson(b.per_channel())},
                              {"top_channels", std::move(channels)},
                              {"histogram", Json{{"edges", std::vector<double>(h.edges().begin(), h.edges().end())},
                                                 {"counts", std::vector<int64_t>(h.counts().begin(), h.counts().end())},
                                                 {"zeros", h.zeros()},
                                                 {"total", h.total()},
                                                 {"percentiles", std::move(percentiles)}}}});
  }
  return Json{{"schema_version", kJsonSchemaVersion},
              {"command", "breakdown"},
              {"summary", SummaryJson(response.summary())},
              {"breakdowns", std::move(breakdowns)}};
}

std::vector<std::string> WriteBreakdownNpy(const v1::BreakdownResponse& response, const std::string& json_path) {
  const std::string suffix = ".json";
  const bool has_suffix = json_path.size() > suffix.size() &&
                          json_path.compare(json_path.size() - suffix.size(), suffix.size(), suffix) == 0;
  const std::string stem = has_suffix ? json_path.substr(0, json_path.size() - suffix.size()) : json_path;
  std::vector<std::string> paths;
  for (const v1::ErrorBreakdown& b : response.breakdowns()) {
    const std::pair<const char*, const v1::ErrorProfile*> profiles[] = {
        {"per_sample", &b.per_sample()}, {"per_position", &b.per_position()}, {"per_channel", &b.per_channel()}};
    for (const auto& [name, profile] : profiles) {
      const std::string path =
          stem + "_" + b.mode() + "_layer_" + std::to_string(b.layer()) + "_" + b.point() + "_" + name + ".npy";
      std::vector<float> values(profile->mse().begin(), profile->mse().end());
      values.insert(values.end(), profile->max_abs().begin(), profile->max_abs().end());
      std::ofstream file(path, std::ios::binary | std::ios::trunc);
      file << NpyFloat32Header({2, profile->mse_size()});
      file.write(reinterpret_cast<const char*>(values.data()), static_cast<std::streamsize>(values.size() * 4));
      file.close();
      if (!file) throw ClientError(kExitFailure, "--out: cannot write " + path);
      paths.push_back(path);
    }
  }
  return paths;
}

}  // namespace layerscope::client
