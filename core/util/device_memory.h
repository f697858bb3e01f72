// DeviceMemory: how much memory each GPU holds through LibTorch's CUDA caching allocator, for the server's
// Prometheus endpoint. Plain C++, so that the server reads it without seeing LibTorch.
#pragma once

#include <cstdint>
#include <vector>

namespace layerscope {

struct DeviceMemory {
  int device = 0;               // CUDA device index
  int64_t allocated_bytes = 0;  // held by live tensors
  int64_t reserved_bytes = 0;   // held by the caching allocator (allocated plus cached free blocks)
  int64_t total_bytes = 0;      // the device's memory
};

// One entry per visible CUDA device, in index order; none on a CPU build or a machine without a GPU. Reading the
// numbers creates no CUDA context on a device this process has not used (its counters are then zero).
std::vector<DeviceMemory> ReadDeviceMemory();

// Gives the caching allocator's free blocks back to the driver. After an out-of-memory error the failed request's
// blocks stay cached (reserved) in this process; on a GPU shared with other processes they are returned here.
// Thread-safe; does nothing on a CPU build or before the first CUDA tensor.
void ReleaseCachedDeviceMemory();

}  // namespace layerscope
