// The per-stage timing of ResidentModel::Compare (CompareTimings): which stages it reports, in which order, that
// they add up to the comparison's own wall time, and that timing leaves the rows bit for bit as they were.
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <string>
#include <tuple>
#include <vector>

#include "core/compare/resident_model.h"
#include "core/metrics/metric_accumulator.h"
#include "tests/core/compare/two_modes_request.h"

namespace layerscope {
namespace {

struct Recorder : CompareObserver {
  void OnProgress(const CompareProgress&) override {}
  void OnRow(const MetricsRow& row) override { rows.push_back(row); }
  void OnTimings(const CompareTimings& t) override {
    ++timings_calls;
    rows_before_timings = rows.size();
    timings = t;
  }
  std::vector<MetricsRow> rows;
  CompareTimings timings;
  int timings_calls = 0;
  size_t rows_before_timings = 0;
};

TEST(CompareTimingsTest, StagesInFirstRunOrderCoverTheWallTime) {
  const auto model = ResidentModel::Load(ResidentModel::EmbeddedModelDir(), "cpu", LoadOptions{/*quantize=*/false});
  const CompareRequest request = TwoModesRequest(*model);
  Recorder observer;
  const auto start = std::chrono::steady_clock::now();
  model->Compare(request, observer);
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  EXPECT_EQ(observer.timings_calls, 1);
  EXPECT_EQ(observer.rows_before_timings, 2u * 2u * 2u);  // after every row
  std::vector<std::string> stages;
  double sum = 0;
  for (const StageTime& t : observer.timings) {
    stages.push_back(t.stage);
    EXPECT_GE(t.seconds, 0) << t.stage;
    sum += t.seconds;
  }
  // Token ids are copied before the first forward; the reference's batches report progress before any metrics.
  EXPECT_EQ(stages, (std::vector<std::string>{"copies", "forward fp32", "reporting", "forward fp16", "metrics",
                                              "forward bf16"}));
  for (const StageTime& t : observer.timings) {
    if (t.stage.rfind("forward ", 0) == 0) EXPECT_GT(t.seconds, 0) << t.stage;
  }
  // The laps tile the comparison: only the request checks before the first and the OnTimings call after the last
  // are outside them.
  EXPECT_LE(sum, wall);
  EXPECT_GE(sum, 0.9 * wall - 1e-3) << "sum " << sum << " s of " << wall << " s";
}

std::vector<float> Floats(const HostTensor& t) {
  const std::vector<double> values = t.ToDoubles();  // exact: the captures are fp32, fp16 or bf16 values
  return std::vector<float>(values.begin(), values.end());
}

// What a row must be, computed without Compare and its clock: Run's captures of both modes through the CPU
// accumulator. One batch of all the samples, as Run takes them.
TEST(CompareTimingsTest, TimedRowsAreBitIdenticalToRowsComputedWithoutTheClock) {
  const auto model = ResidentModel::Load(ResidentModel::EmbeddedModelDir(), "cpu", LoadOptions{/*quantize=*/false});
  CompareRequest request = TwoModesRequest(*model);
  request.batch_size = static_cast<int>(request.samples.size());
  Recorder observer;
  model->Compare(request, observer);
  ASSERT_EQ(observer.rows.size(), 8u);

  const Captures ref = model->Run(request.reference, request.samples, request.layers, request.points, false);
  for (const MetricsRow& row : observer.rows) {
    SCOPED_TRACE(row.mode + " layer " + std::to_string(row.layer) + " " + CapturePointName(row.point));
    const Captures mode = model->Run(*FindBuiltinMode(row.mode), request.samples, {row.layer}, {row.point}, false);
    const std::vector<float> r = Floats(ref.tensors.at({row.layer, row.point}));
    const std::vector<float> m = Floats(mode.tensors.at({row.layer, row.point}));
    MetricAccumulator accumulator;
    accumulator.Add(r.data(), m.data(), r.size());
    const Metrics want = accumulator.Finish();
    for (const auto& [name, got, expected] :
         {std::tuple<const char*, double, double>{"mse", row.metrics.mse, want.mse},
          {"mae", row.metrics.mae, want.mae},
          {"max_abs_diff", row.metrics.max_abs_diff, want.max_abs_diff},
          {"ref_std", row.metrics.ref_std, want.ref_std},
          {"correlation", row.metrics.correlation.value_or(-2), want.correlation.value_or(-2)},
          {"p99", row.metrics.p99, want.p99}}) {
      EXPECT_EQ(std::memcmp(&got, &expected, sizeof got), 0) << name << ": " << got << " vs " << expected;
    }
    EXPECT_EQ(row.metrics.count, want.count);
  }
}

}  // namespace
}  // namespace layerscope
