// GPU machine only: the comparison engine on CUDA (captures kept on the device, metrics reduced by the kernels of
// kernels/metrics) against the same comparison on the CPU (host accumulators), and its determinism.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <string>
#include <vector>

#include "core/compare/resident_model.h"
#include "core/data/byte_samples.h"

namespace layerscope {
namespace {

class CollectRows : public CompareObserver {
 public:
  void OnProgress(const CompareProgress&) override {}
  void OnRow(const MetricsRow& row) override { rows.push_back(row); }
  void OnTimings(const CompareTimings& t) override { timings = t; }
  std::vector<MetricsRow> rows;
  CompareTimings timings;
};

CollectRows RunCompareTimed(const ResidentModel& model) {
  CompareRequest request;
  request.reference = *FindBuiltinMode("fp32");
  for (const char* mode : {"fp16", "0", "2-4"}) request.modes.push_back(*FindBuiltinMode(mode));
  request.layers = {0, 2, 5};
  request.points = DefaultCapturePoints();
  request.samples = ByteSamples(ReadTextFile(ResidentModel::EmbeddedModelDir() + "/eval.txt"), 3, 128);
  request.batch_size = 2;
  CollectRows rows;
  model.Compare(request, rows);
  return rows;
}

std::vector<MetricsRow> RunCompare(const ResidentModel& model) { return RunCompareTimed(model).rows; }

class CompareOnGpu : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!ResidentModel::DeviceAvailable("cuda")) return;
    LoadOptions options;
    options.calibration.samples = 4;
    options.calibration.seq_len = 256;
    cpu_ = ResidentModel::Load(ResidentModel::EmbeddedModelDir(), "cpu", options).release();
    cuda_ = ResidentModel::Load(ResidentModel::EmbeddedModelDir(), "cuda", options).release();
  }
  void SetUp() override {
    if (cuda_ == nullptr) GTEST_SKIP() << "no CUDA device";
  }
  static ResidentModel* cpu_;
  static ResidentModel* cuda_;
};
ResidentModel* CompareOnGpu::cpu_ = nullptr;
ResidentModel* CompareOnGpu::cuda_ = nullptr;

TEST_F(CompareOnGpu, RepeatedRunsAreBitIdentical) {
  const auto first = RunCompare(*cuda_);
  const auto second = RunCompare(*cuda_);
  ASSERT_EQ(first.size(), second.size());
  for (size_t i = 0; i < first.size(); ++i) {
    const Metrics &a = first[i].metrics, &b = second[i].metrics;
    EXPECT_EQ(a.mse, b.mse) << first[i].mode << " layer " << first[i].layer;
    EXPECT_EQ(a.p99, b.p99);
    EXPECT_EQ(a.ref_std, b.ref_std);
    EXPECT_EQ(a.correlation, b.correlation);
  }
}

// The CPU and CUDA forwards round differently (cuBLAS vs CPU GEMM order, native fp16 on CUDA), so the modes' errors
// agree only statistically (the two devices also calibrate the quantized modes on their own forwards): the same
// order of magnitude, and 1 - correlation within 20%. What this
// catches is a device path that loses or misplaces data (wrong slices, wrong ranks, wrong reductions): those give
// errors off by orders of magnitude or reference statistics that differ.
TEST_F(CompareOnGpu, AgreesWithTheCpu) {
  const auto gpu = RunCompare(*cuda_);
  const auto cpu = RunCompare(*cpu_);
  ASSERT_EQ(gpu.size(), cpu.size());
  for (size_t i = 0; i < gpu.size(); ++i) {
    const Metrics &g = gpu[i].metrics, &c = cpu[i].metrics;
    const std::string where = gpu[i].mode + " layer " + std::to_string(gpu[i].layer);
    ASSERT_EQ(g.count, c.count) << where;
    EXPECT_NEAR(g.ref_mean, c.ref_mean, 1e-4 * (std::fabs(c.ref_mean) + c.ref_std)) << where;
    EXPECT_NEAR(g.ref_std, c.ref_std, 1e-4 * c.ref_std) << where;
    EXPECT_NEAR(g.ref_max, c.ref_max, 1e-3 * std::fabs(c.ref_max) + 1e-6) << where;
    EXPECT_GT(g.mse, c.mse / 3) << where;
    EXPECT_LT(g.mse, c.mse * 3) << where;
    EXPECT_GT(g.p50, c.p50 / 3) << where;
    EXPECT_LT(g.p99, c.p99 * 3) << where;
    ASSERT_TRUE(g.correlation.has_value() && c.correlation.has_value()) << where;
    EXPECT_NEAR(*g.correlation, *c.correlation, 0.2 * (1 - *c.correlation) + 1e-6) << where;
  }
}

// The stages on CUDA: each ends with a wait for the device, so together they cover the comparison's wall time.
TEST_F(CompareOnGpu, StagesCoverTheWallTime) {
  RunCompare(*cuda_);  // warm-up: the first run on a device initialises cuBLAS and the caching allocator
  const auto start = std::chrono::steady_clock::now();
  const CollectRows run = RunCompareTimed(*cuda_);
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::vector<std::string> stages;
  double sum = 0;
  for (const StageTime& t : run.timings) stages.push_back(t.stage), sum += t.seconds;
  EXPECT_EQ(stages, (std::vector<std::string>{"copies", "forward fp32", "reporting", "forward fp16", "metrics",
                                              "forward 0", "forward 2-4"}));
  EXPECT_LE(sum, wall);
  EXPECT_GE(sum, 0.9 * wall - 1e-3) << "sum " << sum << " s of " << wall << " s";
}

}  // namespace
}  // namespace layerscope
