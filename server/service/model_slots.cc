#include "server/service/model_slots.h"

#include "core/util/error.h"

namespace layerscope::server {

ModelSlots::Lease::Lease(Lease&& other) noexcept : owner_(other.owner_), device_(other.device_) {
  other.owner_ = nullptr;
}

ModelSlots::Lease::~Lease() {
  if (owner_ != nullptr) owner_->Release(device_);
}

ModelSlots::ModelSlots(const ServerLimits& limits, jobs::DeviceSlots* slots, jobs::JobScheduler* scheduler)
    : limits_(limits), slots_(slots), scheduler_(scheduler) {}

int ModelSlots::CheckRoom() {
  const jobs::JobScheduler::Counts jobs = scheduler_->counts();
  const int in_line = jobs.running + jobs.queued + calls_running_ + calls_waiting_;
  if (in_line >= slots_->devices() * limits_.max_concurrent + limits_.max_queued) {
    throw Error(ErrorKind::kResourceExhausted,
                "the server is busy: " + std::to_string(in_line) +
                    " comparison(s), save(s) and analyses running or waiting, this server's limits max-concurrent = " +
                    std::to_string(limits_.max_concurrent) + " per device on " + std::to_string(slots_->devices()) +
                    " device(s) and max-queued = " + std::to_string(limits_.max_queued) + "; try again later");
  }
  return in_line;
}

int ModelSlots::SubmitJob(const std::function<void()>& submit) {
  std::lock_guard<std::mutex> lock(mu_);
  const int ahead = CheckRoom();
  submit();
  return ahead;
}

ModelSlots::Lease ModelSlots::Acquire(const std::function<bool()>& stop) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    CheckRoom();
    ++calls_waiting_;
  }
  const int device = slots_->Acquire(/*preferred=*/0, stop);
  std::lock_guard<std::mutex> lock(mu_);
  --calls_waiting_;
  if (device < 0) throw Error(ErrorKind::kCancelled, "stopped while waiting for a device slot");
  ++calls_running_;
  return Lease(this, device);
}

void ModelSlots::Release(int device) {
  slots_->Release(device);
  std::lock_guard<std::mutex> lock(mu_);
  --calls_running_;
}

}  // namespace layerscope::server
