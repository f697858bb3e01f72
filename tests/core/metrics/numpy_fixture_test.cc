// MetricAccumulator against numpy: tests/fixtures/metrics/make_fixture.py wrote float32 (reference, mode) pairs
// and numpy's float64 value of every metric.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/metrics/metric_accumulator.h"
#include "core/model/safetensors_reader.h"

namespace layerscope {
namespace {

const std::string kFixtureDir = std::string(LAYERSCOPE_SOURCE_DIR) + "/tests/fixtures/metrics/";

std::vector<float> Floats(const std::map<std::string, HostTensor>& tensors, const std::string& key) {
  const HostTensor& t = tensors.at(key);
  EXPECT_EQ(t.dtype, DType::kF32) << key;
  std::vector<float> values(static_cast<size_t>(t.numel()));
  std::memcpy(values.data(), t.bytes.data(), values.size() * sizeof(float));
  return values;
}

// Both sides compute in fp64 from the same float32 inputs, so they differ only in summation order and algorithm
// (numpy: pairwise sums and two passes; here: sequential sums and chunked moments), ~1e-13 relative at these
// sizes. 1e-9 leaves room for that and still catches any wrong definition (population vs sample std, a missing
// epsilon, a different percentile interpolation), each of which is off by far more.
constexpr double kRelTolerance = 1e-9;

void ExpectMatches(const std::string& key, double actual, const nlohmann::json& expected) {
  ASSERT_TRUE(expected.is_number()) << key;
  const double x = expected.get<double>();
  EXPECT_LE(std::fabs(actual - x), kRelTolerance * std::fabs(x)) << key << ": actual " << actual << " numpy " << x;
}

TEST(NumpyFixtureTest, EveryMetricMatchesNumpy) {
  const auto tensors = ReadSafetensors(kFixtureDir + "pairs.safetensors");
  std::ifstream file(kFixtureDir + "expected.json");
  ASSERT_TRUE(file) << "missing expected.json";
  const nlohmann::json pairs = nlohmann::json::parse(file).at("pairs");
  ASSERT_EQ(pairs.size(), 3u);
  for (const auto& [name, expected] : pairs.items()) {
    SCOPED_TRACE(name);
    const std::vector<float> r = Floats(tensors, name + ".ref"), m = Floats(tensors, name + ".mode");
    ASSERT_EQ(r.size(), m.size());
    MetricAccumulator acc;
    // Uneven chunks, as batches would come.
    const size_t first = std::min<size_t>(r.size(), 100);
    acc.Add(r.data(), m.data(), first);
    acc.Add(r.data() + first, m.data() + first, r.size() - first);
    const Metrics x = acc.Finish();
    EXPECT_EQ(x.count, static_cast<int64_t>(r.size()));
    EXPECT_TRUE(x.percentiles_exact);
    const std::map<std::string, double> actual = {{"ref_mean", x.ref_mean},
                                                  {"ref_std", x.ref_std},
                                                  {"ref_min", x.ref_min},
                                                  {"ref_max", x.ref_max},
                                                  {"mode_mean", x.mode_mean},
                                                  {"mode_std", x.mode_std},
                                                  {"mode_min", x.mode_min},
                                                  {"mode_max", x.mode_max},
                                                  {"diff_mean", x.diff_mean},
                                                  {"diff_std", x.diff_std},
                                                  {"mean_abs_diff", x.mean_abs_diff},
                                                  {"max_abs_diff", x.max_abs_diff},
                                                  {"mse", x.mse},
                                                  {"rmse", x.rmse},
                                                  {"mae", x.mae},
                                                  {"relative_mse", x.relative_mse},
                                                  {"relative_mae", x.relative_mae},
                                                  {"p50", x.p50},
                                                  {"p90", x.p90},
                                                  {"p95", x.p95},
                                                  {"p99", x.p99}};
    for (const auto& [key, value] : actual) ExpectMatches(key, value, expected.at(key));
    const std::map<std::string, std::optional<double>> optionals = {
        {"correlation", x.correlation}, {"cosine", x.cosine}, {"sqnr_db", x.sqnr_db}};
    for (const auto& [key, value] : optionals) {
      ASSERT_EQ(value.has_value(), !expected.at(key).is_null()) << key;
      if (value) ExpectMatches(key, *value, expected.at(key));
    }
  }
  EXPECT_FALSE(pairs.at("constant_ref").at("correlation").is_number());
}

}  // namespace
}  // namespace layerscope
