// ResidentModel::Compare within LoadOptions.compare_memory: past the budget the reference is recomputed for every
// mode (rows bit for bit those of the stored reference, progress counting the passes really run) and percentiles
// come from a histogram (the bound they report holds against the exact ones).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <tuple>
#include <vector>

#include "core/compare/resident_model.h"
#include "tests/core/compare/two_modes_request.h"

namespace layerscope {
namespace {

struct Recorder : CompareObserver {
  void OnProgress(const CompareProgress& progress) override { progress_events.push_back(progress); }
  void OnRow(const MetricsRow& row) override { rows.push_back(row); }
  void OnTimings(const CompareTimings& t) override { timings = t; }
  std::vector<CompareProgress> progress_events;
  std::vector<MetricsRow> rows;
  CompareTimings timings;
};

// Bytes of one (layer, mixer_output) |d| population: fp32 values over every token of its d_model channels.
int64_t MixerOutputBytes(const MambaConfig& config) {
  return int64_t{4} * kTwoModesSamples * kTwoModesSeqLen * config.d_model;
}

// Bytes of one mode's |d| populations of TwoModesRequest, which are also the reference's captures of all batches: per
// layer d_model (mixer_output) + d_inner (ssm_output) channels.
int64_t PopulationBytes(const MambaConfig& config) {
  return int64_t{4} * kTwoModesSamples * kTwoModesSeqLen * 2 * (config.d_model + config.d_inner);
}

std::unique_ptr<ResidentModel> LoadWithHostBudget(int64_t host_bytes) {
  LoadOptions options;
  options.quantize = false;
  options.compare_memory.host_bytes = host_bytes;
  return ResidentModel::Load(ResidentModel::EmbeddedModelDir(), "cpu", options);
}

// Every number of a row but the percentiles, bit for bit.
void ExpectSameMoments(const Metrics& got, const Metrics& want) {
  EXPECT_EQ(got.count, want.count);
  EXPECT_GT(want.mse, 0);  // the modes differ from the reference: there are numbers to compare
  for (const auto& [field, a, b] : {std::tuple<const char*, double, double>{"ref_mean", got.ref_mean, want.ref_mean},
                                    {"ref_std", got.ref_std, want.ref_std},
                                    {"mode_mean", got.mode_mean, want.mode_mean},
                                    {"mode_std", got.mode_std, want.mode_std},
                                    {"diff_mean", got.diff_mean, want.diff_mean},
                                    {"diff_std", got.diff_std, want.diff_std},
                                    {"max_abs_diff", got.max_abs_diff, want.max_abs_diff},
                                    {"mse", got.mse, want.mse},
                                    {"mae", got.mae, want.mae},
                                    {"relative_mse", got.relative_mse, want.relative_mse},
                                    {"correlation", got.correlation.value_or(-2), want.correlation.value_or(-2)},
                                    {"cosine", got.cosine.value_or(-2), want.cosine.value_or(-2)},
                                    {"sqnr_db", got.sqnr_db.value_or(-2), want.sqnr_db.value_or(-2)}}) {
    EXPECT_EQ(std::memcmp(&a, &b, sizeof a), 0) << field << ": " << a << " vs " << b;
  }
}

void ExpectSamePercentiles(const Metrics& got, const Metrics& want) {
  EXPECT_TRUE(got.percentiles_exact);
  EXPECT_EQ(got.percentile_relative_error, 0);
  for (const auto& [field, a, b] : {std::tuple<const char*, double, double>{"p50", got.p50, want.p50},
                                    {"p90", got.p90, want.p90},
                                    {"p95", got.p95, want.p95},
                                    {"p99", got.p99, want.p99}}) {
    EXPECT_EQ(std::memcmp(&a, &b, sizeof a), 0) << field << ": " << a << " vs " << b;
  }
}

std::string Where(const MetricsRow& row) {
  return row.mode + " layer " + std::to_string(row.layer) + " " + CapturePointName(row.point);
}

// Both comparisons' rows, in the same order, bit for bit (percentiles exact in both).
void ExpectSameRows(const std::vector<MetricsRow>& got, const std::vector<MetricsRow>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    SCOPED_TRACE(Where(want[i]));
    EXPECT_EQ(Where(got[i]), Where(want[i]));
    ExpectSameMoments(got[i].metrics, want[i].metrics);
    ExpectSamePercentiles(got[i].metrics, want[i].metrics);
  }
}

TEST(CompareMemoryTest, TheBudgetDecidesWhetherTheReferenceIsStored) {
  const auto model = LoadWithHostBudget(CompareMemoryBudget{}.host_bytes);
  const CompareRequest request = TwoModesRequest(*model);
  const int64_t total = PopulationBytes(model->info().config);
  // The default budget holds this small comparison: the reference once (2 batches), then 2 modes x 2 batches.
  ComparePlan plan = model->PlanCompare(request);
  EXPECT_FALSE(plan.metrics_on_device);
  EXPECT_TRUE(plan.reference_stored);
  EXPECT_EQ(plan.forward_passes, 2 + 2 * 2);
  // Exact populations and the stored reference take 2 x total: one byte less and the reference is recomputed,
  // once per batch and mode.
  plan = LoadWithHostBudget(2 * total)->PlanCompare(request);
  EXPECT_TRUE(plan.reference_stored);
  plan = LoadWithHostBudget(2 * total - 1)->PlanCompare(request);
  EXPECT_FALSE(plan.reference_stored);
  EXPECT_EQ(plan.forward_passes, 2 * 2 * 2);
}

TEST(CompareMemoryTest, ARecomputedReferenceGivesTheStoredReferencesRowsBitForBit) {
  const auto stored = LoadWithHostBudget(CompareMemoryBudget{}.host_bytes);
  const CompareRequest request = TwoModesRequest(*stored);
  // Room for every exact population, none for the reference.
  const auto recomputing = LoadWithHostBudget(PopulationBytes(stored->info().config));
  ASSERT_FALSE(recomputing->PlanCompare(request).reference_stored);
  Recorder want, got;
  stored->Compare(request, want);
  recomputing->Compare(request, got);

  ASSERT_EQ(want.rows.size(), 2u * 2u * 2u);
  ExpectSameRows(got.rows, want.rows);

  // Progress counts the 8 forward passes that ran, the reference's batch before each mode's batch.
  ASSERT_EQ(got.progress_events.size(), 8u);
  for (size_t i = 0; i < got.progress_events.size(); ++i) {
    EXPECT_EQ(got.progress_events[i].steps_done, static_cast<int64_t>(i + 1));
    EXPECT_EQ(got.progress_events[i].steps_total, 8);
  }
  EXPECT_EQ(got.progress_events[0].stage, "fp32 (for fp16) batch 1/2");
  EXPECT_EQ(got.progress_events[1].stage, "fp16 batch 1/2");
  EXPECT_EQ(got.progress_events[7].stage, "bf16 batch 2/2");
  EXPECT_EQ(want.progress_events.size(), 6u);
  EXPECT_EQ(want.progress_events.back().steps_total, 6);

  // The recomputed reference's passes are timed in the reference's forward stage; no other stage appears.
  std::vector<std::string> stages;
  for (const StageTime& t : got.timings) stages.push_back(t.stage);
  EXPECT_EQ(stages, (std::vector<std::string>{"copies", "forward fp32", "reporting", "forward fp16", "metrics",
                                              "forward bf16"}));
}

TEST(CompareMemoryTest, PastTheHostBudgetPercentilesComeFromAHistogramWithinTheirBound) {
  const auto exact = LoadWithHostBudget(CompareMemoryBudget{}.host_bytes);
  const CompareRequest request = TwoModesRequest(*exact);
  // Room for the smallest population only: layer 0's mixer_output (d_model < d_inner; ties go to the lower layer).
  const auto bounded = LoadWithHostBudget(MixerOutputBytes(exact->info().config));
  EXPECT_FALSE(bounded->PlanCompare(request).reference_stored);
  Recorder want, got;
  exact->Compare(request, want);
  bounded->Compare(request, got);

  ASSERT_EQ(got.rows.size(), want.rows.size());
  int estimated = 0;
  for (size_t i = 0; i < want.rows.size(); ++i) {
    SCOPED_TRACE(Where(want.rows[i]));
    const Metrics& w = want.rows[i].metrics;
    const Metrics& g = got.rows[i].metrics;
    ExpectSameMoments(g, w);
    ASSERT_TRUE(w.percentiles_exact);
    if (want.rows[i].layer == 0 && want.rows[i].point == CapturePoint::kMixerOutput) {
      ExpectSamePercentiles(g, w);
      continue;
    }
    ++estimated;
    EXPECT_FALSE(g.percentiles_exact);
    EXPECT_EQ(g.percentile_relative_error, 1.0 / 1024);  // MetricAccumulator's histogram: 2^10 buckets a binade
    for (const auto& [field, estimate, value] : {std::tuple<const char*, double, double>{"p50", g.p50, w.p50},
                                                 {"p90", g.p90, w.p90},
                                                 {"p95", g.p95, w.p95},
                                                 {"p99", g.p99, w.p99}}) {
      EXPECT_GT(value, 0) << field;
      EXPECT_LE(std::fabs(estimate - value), g.percentile_relative_error * value)
          << field << ": " << estimate << " vs exact " << value;
    }
  }
  EXPECT_EQ(estimated, 2 * 3);  // per mode: layer 0's ssm_output and the last layer's two points
}

// On a GPU: |d| populations and reductions stay there while they fit device_bytes; below twice their size the
// reference is recomputed there, bit for bit the same rows; with no device budget the host path does the same.
TEST(CompareMemoryTest, OnAGpuARecomputedReferenceGivesTheStoredReferencesRowsBitForBit) {
  if (!ResidentModel::DeviceAvailable("cuda")) GTEST_SKIP() << "needs a GPU";
  LoadOptions options;
  options.quantize = false;
  const auto stored = ResidentModel::Load(ResidentModel::EmbeddedModelDir(), "cuda", options);
  const CompareRequest request = TwoModesRequest(*stored);
  options.compare_memory.device_bytes = PopulationBytes(stored->info().config);
  const auto recomputing = ResidentModel::Load(ResidentModel::EmbeddedModelDir(), "cuda", options);
  ASSERT_TRUE(stored->PlanCompare(request).metrics_on_device);
  ASSERT_TRUE(stored->PlanCompare(request).reference_stored);
  ASSERT_TRUE(recomputing->PlanCompare(request).metrics_on_device);
  ASSERT_FALSE(recomputing->PlanCompare(request).reference_stored);
  Recorder want, got;
  stored->Compare(request, want);
  recomputing->Compare(request, got);
  ExpectSameRows(got.rows, want.rows);
  EXPECT_EQ(got.progress_events.back().steps_done, 8);

  // No device budget: the captures go to the CPU accumulators, the reference stored in host memory or recomputed.
  options.compare_memory.device_bytes = 0;
  const auto host_stored = ResidentModel::Load(ResidentModel::EmbeddedModelDir(), "cuda", options);
  options.compare_memory.host_bytes = PopulationBytes(stored->info().config);
  const auto host_recomputing = ResidentModel::Load(ResidentModel::EmbeddedModelDir(), "cuda", options);
  ASSERT_FALSE(host_stored->PlanCompare(request).metrics_on_device);
  ASSERT_TRUE(host_stored->PlanCompare(request).reference_stored);
  ASSERT_FALSE(host_recomputing->PlanCompare(request).reference_stored);
  Recorder host_want, host_got;
  host_stored->Compare(request, host_want);
  host_recomputing->Compare(request, host_got);
  ExpectSameRows(host_got.rows, host_want.rows);
}

}  // namespace
}  // namespace layerscope
