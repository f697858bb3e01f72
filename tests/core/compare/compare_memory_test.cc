// ResidentModel::Compare within LoadOptions.compare_memory: past the budget the reference is recomputed for every
// mode (rows bit for bit those of the stored reference, progress counting the passes really run) and percentiles
// come from a histogram (the bound they report holds against the exact ones), on the host or, on a GPU, on the device.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <tuple>
#include <vector>

#include "core/compare/resident_model.h"
#include "kernels/metrics/abs_diff_buckets.h"
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

// A bounded run's rows against the exact run's, in the same order: the same moments; layer 0's mixer_output (the
// smallest population, kept whole) the same percentiles; every other row's percentiles estimated from a histogram
// within its 2^-10 bound. Returns how many rows were estimated.
int ExpectHistogramRows(const std::vector<MetricsRow>& got, const std::vector<MetricsRow>& want) {
  EXPECT_EQ(got.size(), want.size());
  int estimated = 0;
  for (size_t i = 0; i < want.size() && i < got.size(); ++i) {
    SCOPED_TRACE(Where(want[i]));
    EXPECT_EQ(Where(got[i]), Where(want[i]));
    const Metrics &g = got[i].metrics, &w = want[i].metrics;
    ExpectSameMoments(g, w);
    EXPECT_TRUE(w.percentiles_exact);
    if (want[i].layer == 0 && want[i].point == CapturePoint::kMixerOutput) {
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
  return estimated;
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
  EXPECT_EQ(plan.histogram_captures, 0);
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
  EXPECT_EQ(bounded->PlanCompare(request).histogram_captures, 3);
  Recorder want, got;
  exact->Compare(request, want);
  bounded->Compare(request, got);

  // Per mode: layer 0's ssm_output and the last layer's two points.
  EXPECT_EQ(ExpectHistogramRows(got.rows, want.rows), 2 * 3);
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

// On a GPU, past the device budget but with room for a |d| histogram per (layer, point), the metrics stay there:
// the smallest population kept exact next to the others' histograms, the reference recomputed. Moments and the
// exact row are bit for bit those of the all-on-device comparison; the histogram rows' percentiles are bit for bit
// those MetricAccumulator's histograms give for the same captures on the host path (same buckets, same percentile
// code), with their bound, which holds against the exact percentiles.
TEST(CompareMemoryTest, OnAGpuPastTheDeviceBudgetHistogramsKeepTheMetricsThere) {
  if (!ResidentModel::DeviceAvailable("cuda")) GTEST_SKIP() << "needs a GPU";
  LoadOptions options;
  options.quantize = false;
  const auto exact = ResidentModel::Load(ResidentModel::EmbeddedModelDir(), "cuda", options);
  // Enough tokens that a population outweighs a histogram: 8 x 512 tokens in batches of 3, 3, 2.
  CompareRequest request = TwoModesRequest(*exact);
  request.samples.clear();
  for (int s = 0; s < 8; ++s) {
    std::vector<int32_t> ids;
    for (int t = 0; t < 512; ++t) ids.push_back((s * 61 + t * 7 + t * t) % 256);
    request.samples.push_back(ids);
  }
  request.batch_size = 3;
  const int64_t tokens = 8 * 512;
  const MambaConfig& config = exact->info().config;
  const int64_t mixer_output_bytes = 4 * tokens * config.d_model;
  const int64_t histogram_bytes = int64_t{sizeof(uint64_t)} * kAbsDiffBuckets;
  ASSERT_GT(mixer_output_bytes, histogram_bytes);

  // Layer 0's mixer_output (the smallest, ties to the lower layer) next to the three others' histograms.
  options.compare_memory.device_bytes = mixer_output_bytes + 3 * histogram_bytes;
  const auto bounded = ResidentModel::Load(ResidentModel::EmbeddedModelDir(), "cuda", options);
  const ComparePlan plan = bounded->PlanCompare(request);
  EXPECT_TRUE(plan.metrics_on_device);
  EXPECT_FALSE(plan.reference_stored);
  EXPECT_EQ(plan.histogram_captures, 3);
  EXPECT_EQ(plan.forward_passes, 3 * 2 * 2);
  // One byte less: histograms only; less than four histograms: the host path.
  options.compare_memory.device_bytes = mixer_output_bytes + 3 * histogram_bytes - 1;
  ComparePlan smaller = ResidentModel::Load(ResidentModel::EmbeddedModelDir(), "cuda", options)->PlanCompare(request);
  EXPECT_TRUE(smaller.metrics_on_device);
  EXPECT_EQ(smaller.histogram_captures, 4);
  options.compare_memory.device_bytes = 4 * histogram_bytes - 1;
  smaller = ResidentModel::Load(ResidentModel::EmbeddedModelDir(), "cuda", options)->PlanCompare(request);
  EXPECT_FALSE(smaller.metrics_on_device);

  // The host path with the same split: layer 0's mixer_output exact, the others MetricAccumulator's histograms.
  options.compare_memory.device_bytes = 0;
  options.compare_memory.host_bytes = mixer_output_bytes;
  const auto host = ResidentModel::Load(ResidentModel::EmbeddedModelDir(), "cuda", options);
  ASSERT_FALSE(host->PlanCompare(request).metrics_on_device);
  ASSERT_EQ(host->PlanCompare(request).histogram_captures, 3);

  Recorder want, got, host_got;
  exact->Compare(request, want);
  bounded->Compare(request, got);
  host->Compare(request, host_got);
  ASSERT_EQ(want.rows.size(), 2u * 2u * 2u);
  EXPECT_EQ(ExpectHistogramRows(got.rows, want.rows), 2 * 3);
  // The device's histograms and MetricAccumulator's give the same estimates, bit for bit (the moments of the two
  // paths differ in their last bits: different summation orders).
  ASSERT_EQ(host_got.rows.size(), got.rows.size());
  for (size_t i = 0; i < got.rows.size(); ++i) {
    const Metrics &g = got.rows[i].metrics, &h = host_got.rows[i].metrics;
    EXPECT_EQ(Where(host_got.rows[i]), Where(got.rows[i]));
    EXPECT_EQ(h.percentiles_exact, g.percentiles_exact);
    EXPECT_EQ(h.percentile_relative_error, g.percentile_relative_error);
    for (const auto& [field, device, host] : {std::tuple<const char*, double, double>{"p50", g.p50, h.p50},
                                              {"p90", g.p90, h.p90},
                                              {"p95", g.p95, h.p95},
                                              {"p99", g.p99, h.p99}}) {
      EXPECT_EQ(std::memcmp(&device, &host, sizeof device), 0)
          << Where(got.rows[i]) << " " << field << ": device " << device << ", host " << host;
    }
  }
  EXPECT_EQ(got.progress_events.back().steps_done, 3 * 2 * 2);
}

}  // namespace
}  // namespace layerscope
