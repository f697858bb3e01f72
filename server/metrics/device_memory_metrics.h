// RenderDeviceMemory: the GPU memory part of the Prometheus endpoint's text: per CUDA device, the bytes LibTorch's
// caching allocator has handed to tensors, the bytes it holds from the driver, and the device's total. A CPU server
// shows the metric families without samples.
#pragma once

#include <string>
#include <vector>

#include "core/util/device_memory.h"

namespace layerscope::server {

inline std::string RenderDeviceMemory(const std::vector<DeviceMemory>& devices) {
  struct Family {
    const char* name;
    const char* help;
    int64_t DeviceMemory::*bytes;
  };
  static constexpr Family kFamilies[] = {
      {"layerscope_gpu_memory_allocated_bytes", "GPU memory held by live tensors (CUDA caching allocator).",
       &DeviceMemory::allocated_bytes},
      {"layerscope_gpu_memory_reserved_bytes",
       "GPU memory the CUDA caching allocator holds from the driver: allocated plus cached free blocks.",
       &DeviceMemory::reserved_bytes},
      {"layerscope_gpu_memory_total_bytes", "The GPU's memory.", &DeviceMemory::total_bytes},
  };
  std::string out;
  for (const Family& family : kFamilies) {
    out += std::string("# HELP ") + family.name + " " + family.help + "\n";
    out += std::string("# TYPE ") + family.name + " gauge\n";
    for (const DeviceMemory& device : devices) {
      out += std::string(family.name) + "{device=\"cuda:" + std::to_string(device.device) + "\"} " +
             std::to_string(device.*family.bytes) + "\n";
    }
  }
  return out;
}

}  // namespace layerscope::server
