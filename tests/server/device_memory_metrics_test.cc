#include "server/metrics/device_memory_metrics.h"

#include <gtest/gtest.h>

#include "core/compare/resident_model.h"

namespace layerscope::server {
namespace {

// Two devices with hand-picked numbers: every family, then one sample per device in device order.
TEST(DeviceMemoryMetricsTest, RendersEveryDeviceInEveryFamily) {
  std::vector<DeviceMemory> devices(2);
  devices[0] = {0, 1536, 2097152, 85899345920};
  devices[1] = {1, 0, 0, 150754820096};
  EXPECT_EQ(RenderDeviceMemory(devices),
            "# HELP layerscope_gpu_memory_allocated_bytes GPU memory held by live tensors (CUDA caching allocator).\n"
            "# TYPE layerscope_gpu_memory_allocated_bytes gauge\n"
            "layerscope_gpu_memory_allocated_bytes{device=\"cuda:0\"} 1536\n"
            "layerscope_gpu_memory_allocated_bytes{device=\"cuda:1\"} 0\n"
            "# HELP layerscope_gpu_memory_reserved_bytes GPU memory the CUDA caching allocator holds from the "
            "driver: allocated plus cached free blocks.\n"
            "# TYPE layerscope_gpu_memory_reserved_bytes gauge\n"
            "layerscope_gpu_memory_reserved_bytes{device=\"cuda:0\"} 2097152\n"
            "layerscope_gpu_memory_reserved_bytes{device=\"cuda:1\"} 0\n"
            "# HELP layerscope_gpu_memory_total_bytes The GPU's memory.\n"
            "# TYPE layerscope_gpu_memory_total_bytes gauge\n"
            "layerscope_gpu_memory_total_bytes{device=\"cuda:0\"} 85899345920\n"
            "layerscope_gpu_memory_total_bytes{device=\"cuda:1\"} 150754820096\n");
}

TEST(DeviceMemoryMetricsTest, NoDevicesGivesTheFamiliesWithoutSamples) {
  const std::string text = RenderDeviceMemory({});
  EXPECT_NE(text.find("# TYPE layerscope_gpu_memory_reserved_bytes gauge\n"), std::string::npos) << text;
  EXPECT_EQ(text.find("{device="), std::string::npos) << text;
}

// On a machine without a GPU no device is reported, whether or not the build has CUDA; on the GPU machine every
// device is, with consistent numbers (tests/gpu/oom_test.cc checks them against a model resident there).
TEST(DeviceMemoryMetricsTest, ReportsTheDevicesThisMachineHas) {
  const std::vector<DeviceMemory> devices = ReadDeviceMemory();
  if (!ResidentModel::DeviceAvailable("cuda")) {
    EXPECT_TRUE(devices.empty());
    return;
  }
  ASSERT_FALSE(devices.empty());
  for (size_t i = 0; i < devices.size(); ++i) {
    EXPECT_EQ(devices[i].device, static_cast<int>(i));
    EXPECT_GT(devices[i].total_bytes, 0);
    EXPECT_LE(devices[i].allocated_bytes, devices[i].reserved_bytes);
    EXPECT_LE(devices[i].reserved_bytes, devices[i].total_bytes);
  }
}

}  // namespace
}  // namespace layerscope::server
