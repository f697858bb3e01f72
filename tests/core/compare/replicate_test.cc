// ResidentModel::ReplicateTo and ExpandDevices: a replica holds the same FP and W8A8 model as the original, so its
// captures and comparison rows are bit for bit the original's; --device lists expand to one device per entry.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <tuple>
#include <vector>

#include "core/compare/resident_model.h"
#include "tests/support/error_of.h"

namespace layerscope {
namespace {

struct Rows : CompareObserver {
  void OnProgress(const CompareProgress&) override {}
  void OnRow(const MetricsRow& row) override { rows.push_back(row); }
  std::vector<MetricsRow> rows;
};

std::vector<std::vector<int32_t>> Samples() {
  std::vector<std::vector<int32_t>> samples;
  for (int s = 0; s < 3; ++s) {
    std::vector<int32_t> ids;
    for (int t = 0; t < 40; ++t) ids.push_back((s * 29 + t * 11) % 256);
    samples.push_back(ids);
  }
  return samples;
}

std::vector<CapturePoint> EveryPoint() {
  std::vector<CapturePoint> points;
  for (const CapturePointInfo& info : AllCapturePoints()) points.push_back(info.point);
  return points;
}

std::unique_ptr<ResidentModel> LoadSmallCalibration() {
  LoadOptions options;
  options.calibration.samples = 1;
  options.calibration.seq_len = 64;
  return ResidentModel::Load(ResidentModel::EmbeddedModelDir(), "cpu", options);
}

// Every mode's captures at every point of the first and last layers, and its logits, bit for bit the same.
void ExpectSameCaptures(const ResidentModel& replica, const ResidentModel& original) {
  const int last = original.info().config.n_layer - 1;
  for (const char* name : {"fp32", "fp16", "bf16", "1", "2-1", "3"}) {
    SCOPED_TRACE(name);
    const ModeSpec mode = *FindBuiltinMode(name);
    const Captures want = original.Run(mode, Samples(), {0, last}, EveryPoint(), /*keep_logits=*/true);
    const Captures got = replica.Run(mode, Samples(), {0, last}, EveryPoint(), /*keep_logits=*/true);
    ASSERT_EQ(got.tensors.size(), want.tensors.size());
    for (const auto& [key, tensor] : want.tensors) {
      SCOPED_TRACE("layer " + std::to_string(key.first) + " " + CapturePointName(key.second));
      EXPECT_EQ(got.tensors.at(key).shape, tensor.shape);
      EXPECT_TRUE(got.tensors.at(key).bytes == tensor.bytes);
    }
    EXPECT_TRUE(got.logits.bytes == want.logits.bytes);
    EXPECT_FALSE(want.logits.bytes.empty());
    EXPECT_EQ(got.out_proj_input_overflows, want.out_proj_input_overflows);
  }
}

TEST(ReplicateTest, AReplicaCapturesBitForBitWhatTheOriginalCaptures) {
  const auto model = LoadSmallCalibration();
  ASSERT_TRUE(model->info().float_available);
  ASSERT_TRUE(model->info().quantized_available);
  const auto replica = model->ReplicateTo("cpu");
  EXPECT_EQ(replica->info().device, "cpu");
  EXPECT_EQ(replica->info().name, model->info().name);
  EXPECT_EQ(replica->info().parameters, model->info().parameters);
  EXPECT_EQ(replica->info().quantization, model->info().quantization);
  EXPECT_TRUE(replica->info().quantized_available);
  ExpectSameCaptures(*replica, *model);
}

TEST(ReplicateTest, AReplicaComparesToTheOriginalsRows) {
  const auto model = LoadSmallCalibration();
  const auto replica = model->ReplicateTo("cpu");
  CompareRequest request;
  request.reference = *FindBuiltinMode("fp32");
  request.modes = {*FindBuiltinMode("fp16"), *FindBuiltinMode("2-1")};
  request.layers = {0, static_cast<int>(model->info().config.n_layer) - 1};
  request.points = {CapturePoint::kMixerOutput, CapturePoint::kSsmOutput};
  request.samples = Samples();
  request.batch_size = 2;
  Rows want, got;
  model->Compare(request, want);
  replica->Compare(request, got);
  ASSERT_EQ(want.rows.size(), 8u);
  ASSERT_EQ(got.rows.size(), want.rows.size());
  for (size_t i = 0; i < want.rows.size(); ++i) {
    const Metrics& w = want.rows[i].metrics;
    const Metrics& g = got.rows[i].metrics;
    SCOPED_TRACE(want.rows[i].mode + " layer " + std::to_string(want.rows[i].layer));
    EXPECT_EQ(got.rows[i].mode, want.rows[i].mode);
    EXPECT_EQ(got.rows[i].layer, want.rows[i].layer);
    EXPECT_EQ(got.rows[i].point, want.rows[i].point);
    EXPECT_EQ(g.count, w.count);
    EXPECT_GT(w.mse, 0);  // the modes differ from the reference: the rows carry numbers to compare
    for (const auto& [field, a, b] : {std::tuple<const char*, double, double>{"mse", g.mse, w.mse},
                                      {"max_abs_diff", g.max_abs_diff, w.max_abs_diff},
                                      {"ref_mean", g.ref_mean, w.ref_mean},
                                      {"mode_std", g.mode_std, w.mode_std},
                                      {"correlation", g.correlation.value_or(-2), w.correlation.value_or(-2)},
                                      {"sqnr_db", g.sqnr_db.value_or(-2), w.sqnr_db.value_or(-2)},
                                      {"p50", g.p50, w.p50},
                                      {"p99", g.p99, w.p99}}) {
      EXPECT_EQ(std::memcmp(&a, &b, sizeof a), 0) << field << ": " << a << " vs " << b;
    }
  }
}

TEST(ReplicateTest, ADeviceListExpandsToOneDevicePerEntry) {
  EXPECT_EQ(ResidentModel::ExpandDevices("cpu"), (std::vector<std::string>{"cpu"}));
  EXPECT_EQ(ResidentModel::ExpandDevices("cpu,cpu,cpu"), (std::vector<std::string>{"cpu", "cpu", "cpu"}));
  std::string message;
  EXPECT_EQ(KindOf([] { ResidentModel::ExpandDevices("cpu,gpu"); }, &message), ErrorKind::kInvalidArgument);
  EXPECT_NE(message.find("\"gpu\""), std::string::npos) << message;
  EXPECT_EQ(KindOf([] { ResidentModel::ExpandDevices("cpu,"); }), ErrorKind::kInvalidArgument);
  if (!ResidentModel::DeviceAvailable("cuda")) {
    EXPECT_EQ(KindOf([] { ResidentModel::ExpandDevices("cuda"); }, &message), ErrorKind::kFailedPrecondition);
    EXPECT_NE(message.find("not available"), std::string::npos) << message;
    const auto model = ResidentModel::Load(ResidentModel::EmbeddedModelDir(), "cpu", LoadOptions{/*quantize=*/false});
    EXPECT_EQ(KindOf([&] { model->ReplicateTo("cuda:0"); }), ErrorKind::kFailedPrecondition);
  }
}

// The server's case on a machine with two GPUs: loaded and calibrated on cuda:0, copied to cuda:1.
TEST(ReplicateTest, AReplicaOnAnotherGpuCapturesBitForBitWhatTheOriginalCaptures) {
  if (!ResidentModel::DeviceAvailable("cuda:1")) GTEST_SKIP() << "needs two GPUs";
  LoadOptions options;
  options.calibration.samples = 1;
  options.calibration.seq_len = 64;
  const auto model = ResidentModel::Load(ResidentModel::EmbeddedModelDir(), "cuda:0", options);
  const auto replica = model->ReplicateTo("cuda:1");
  EXPECT_EQ(replica->info().device, "cuda:1");
  ExpectSameCaptures(*replica, *model);
}

}  // namespace
}  // namespace layerscope
