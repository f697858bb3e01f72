#include "server/jobs/device_slots.h"

#include <string>

#include "core/util/error.h"

namespace layerscope::jobs {

DeviceSlots::DeviceSlots(int devices, int per_device) : per_device_(per_device) {
  if (devices < 1 || per_device < 1) {
    throw Error(ErrorKind::kInvalidArgument, "device slots: devices (" + std::to_string(devices) +
                                                 ") and per_device (" + std::to_string(per_device) +
                                                 ") must each be at least 1");
  }
  busy_.assign(devices, 0);
}

int DeviceSlots::Acquire(int preferred, const std::function<bool()>& stop, std::chrono::milliseconds poll) {
  const int first = preferred % devices();
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    int least = first;
    for (int device = 0; device < devices(); ++device) {
      if (busy_[device] < busy_[least]) least = device;
    }
    if (busy_[least] < per_device_) {
      ++busy_[least];
      return least;
    }
    if (stop()) return -1;
    released_.wait_for(lock, poll);
  }
}

void DeviceSlots::Release(int device) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    --busy_.at(device);
  }
  released_.notify_all();
}

}  // namespace layerscope::jobs
