// DeviceSlots: how many pieces of work run on each of a server's devices, at most `per_device` at a time on any one.
// A job whose modes are spread over the devices takes one slot per share; each share holds one slot while it runs
// and waits for none meanwhile, so shares of different jobs cannot deadlock. Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <vector>

namespace layerscope::jobs {

class DeviceSlots {
 public:
  // Throws Error(kInvalidArgument) unless both are at least 1.
  DeviceSlots(int devices, int per_device);

  int devices() const { return static_cast<int>(busy_.size()); }

  // Waits for a device with a free slot and takes it: the least busy one; among equals `preferred` (modulo the
  // number of devices), else the lowest index. Share s of a job prefers device s, so that the shares of one job
  // land on different devices when they are free, whichever share asks first. Returns the device's index, or -1
  // when stop() turned true first (polled every `poll`).
  int Acquire(int preferred, const std::function<bool()>& stop,
              std::chrono::milliseconds poll = std::chrono::milliseconds(50));
  void Release(int device);

 private:
  const int per_device_;
  std::mutex mu_;
  std::condition_variable released_;
  std::vector<int> busy_;  // slots taken, per device
};

}  // namespace layerscope::jobs
