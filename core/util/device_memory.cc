#include "core/util/device_memory.h"

#ifdef LAYERSCOPE_WITH_CUDA
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAFunctions.h>
#endif

namespace layerscope {

std::vector<DeviceMemory> ReadDeviceMemory() {
  std::vector<DeviceMemory> devices;
#ifdef LAYERSCOPE_WITH_CUDA
  namespace allocator = c10::cuda::CUDACachingAllocator;
  const int count = c10::cuda::device_count();
  // The caching allocator keeps per-device state only once it is initialized, which the first CUDA tensor does.
  const bool allocator_ready = allocator::get() != nullptr && allocator::get()->initialized();
  for (int index = 0; index < count; ++index) {
    DeviceMemory memory;
    memory.device = index;
    memory.total_bytes = static_cast<int64_t>(at::cuda::getDeviceProperties(index)->totalGlobalMem);
    if (allocator_ready) {
      const auto stats = allocator::getDeviceStats(static_cast<c10::DeviceIndex>(index));
      // Entry 0 is StatType::AGGREGATE (the sum over the small and large pools) in every LibTorch version; the
      // enum itself moved namespaces between 1.13 and 2.x.
      memory.allocated_bytes = stats.allocated_bytes[0].current;
      memory.reserved_bytes = stats.reserved_bytes[0].current;
    }
    devices.push_back(memory);
  }
#endif
  return devices;
}

void ReleaseCachedDeviceMemory() {
#ifdef LAYERSCOPE_WITH_CUDA
  namespace allocator = c10::cuda::CUDACachingAllocator;
  if (allocator::get() != nullptr && allocator::get()->initialized()) allocator::emptyCache();
#endif
}

}  // namespace layerscope
