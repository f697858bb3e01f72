// GPU machine only: device memory under the real server. An oversized comparison (one batch of 33.5M tokens, far
// past any GPU's memory, within limits the server was given) answers RESOURCE_EXHAUSTED naming the device's memory,
// the server keeps serving and the next normal job runs; and the caching allocator's numbers that /metrics shows.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/compare/resident_model.h"
#include "core/util/device_memory.h"
#include "layerscope/v1/layerscope.grpc.pb.h"
#include "tests/core/data/dataset_files.h"
#include "tests/server/compare_call.h"
#include "tests/support/server_process.h"

namespace layerscope {
namespace {

constexpr int kSamples = 512;
constexpr int kSeqLen = 65536;  // the default --max-seq-len

class GpuMemory : public DatasetFiles {
 protected:
  void SetUp() override {
    if (!ResidentModel::DeviceAvailable("cuda")) GTEST_SKIP() << "no CUDA device";
    DatasetFiles::SetUp();
  }
};

// Every sample in one batch: the forward pass needs about 15 KB of activations per token, 500 GB here; its first
// layer's input projection alone (768 floats a token) is 103 GB, more than an H200 has.
v1::CompareRequest OversizedRequest() {
  v1::CompareRequest request;
  request.add_modes("fp16");
  request.add_layers(0);
  request.add_points("mixer_output");  // the reference's captures (kept on the host here) stay at 26 GB
  request.set_samples(kSamples);
  request.set_seq_len(kSeqLen);
  request.set_batch_size(kSamples);
  request.mutable_data()->set_file("big.npy");
  return request;
}

TEST_F(GpuMemory, OversizedRequestIsResourceExhaustedAndTheNextJobRuns) {
  std::vector<int32_t> ids(static_cast<size_t>(kSamples) * kSeqLen);
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int32_t>(i * 7 % 256);
  const std::string npy =
      WriteNpy("big.npy", "<i4", "(" + std::to_string(kSamples) + ", " + std::to_string(kSeqLen) + ")", ids);
  const std::string data_root = npy.substr(0, npy.rfind('/'));
  ServerProcess server({"--device", "cuda", "--no-quantize", "--data-root", data_root, "--max-tokens",
                        std::to_string(int64_t{kSamples} * kSeqLen)});
  auto stub = v1::Layerscope::NewStub(server.NewChannel());

  const auto oversized = server::testing::RunCompare(*stub, OversizedRequest(), {}, std::chrono::seconds(300));
  EXPECT_EQ(oversized.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << oversized.status.error_message();
  EXPECT_NE(oversized.status.error_message().find("ran out of memory"), std::string::npos)
      << oversized.status.error_message();

  HealthStatus health = HealthStatus::kUnknown;
  ASSERT_TRUE(CheckHealth(server.NewChannel(), "", &health).ok());
  EXPECT_EQ(health, HealthStatus::kServing);
  const auto normal = server::testing::RunCompare(*stub, server::testing::EveryRowRequest(4, 256));
  ASSERT_TRUE(normal.status.ok()) << normal.status.error_message();
  int rows = 0;
  for (const auto& event : normal.events) rows += event.has_row();
  EXPECT_EQ(rows, 2 * 6 * 6);  // two modes, every layer and default point of the embedded model
  EXPECT_EQ(server.Stop(), 0) << server.Stderr();
}

// What /metrics renders per device: a model resident on cuda:0 shows in allocated and reserved bytes.
TEST_F(GpuMemory, DeviceMemoryCountsAResidentModel) {
  LoadOptions options;
  options.quantize = false;
  const auto model = ResidentModel::Load(ResidentModel::EmbeddedModelDir(), "cuda", options);
  const std::vector<DeviceMemory> devices = ReadDeviceMemory();
  ASSERT_FALSE(devices.empty());
  for (size_t i = 0; i < devices.size(); ++i) {
    EXPECT_EQ(devices[i].device, static_cast<int>(i));
    EXPECT_GT(devices[i].total_bytes, int64_t{16} << 30);
    EXPECT_LE(devices[i].allocated_bytes, devices[i].reserved_bytes);
    EXPECT_LE(devices[i].reserved_bytes, devices[i].total_bytes);
  }
  // The fp32 weights alone are model.safetensors' 6.2 MB.
  EXPECT_GE(devices[0].allocated_bytes, 6000000);
}

}  // namespace
}  // namespace layerscope
