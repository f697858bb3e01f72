// ModelSlots: the one admission to the model for everything that runs it: comparison jobs, saves and analyses.
// Each device runs at most --max-concurrent pieces of work at once (jobs::DeviceSlots, which the comparison jobs'
// runner takes its device slots from as well), and at most --max-queued more wait in line: comparison jobs queued in
// the scheduler plus saves and analyses waiting for a slot. Work that finds the line full is refused at once
// (kResourceExhausted, naming both limits); a save or an analysis that is admitted waits for a device slot until its
// caller gives up (cancellation or deadline) or the server stops. A comparison job that a worker took but whose device
// slot a save or an analysis holds waits for it the same way. Thread-safe.
#pragma once

#include <functional>
#include <mutex>
#include <string>

#include "server/config/server_config.h"
#include "server/jobs/device_slots.h"
#include "server/jobs/job_scheduler.h"

namespace layerscope::server {

class ModelSlots {
 public:
  // A device slot held by a save or an analysis; given back when destroyed.
  class Lease {
   public:
    Lease(Lease&& other) noexcept;
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    int device() const { return device_; }

   private:
    friend class ModelSlots;
    Lease(ModelSlots* owner, int device) : owner_(owner), device_(device) {}
    ModelSlots* owner_;
    int device_;
  };

  // `slots` and `scheduler` (whose runner takes its device slots from `slots`) must outlive this.
  ModelSlots(const ServerLimits& limits, jobs::DeviceSlots* slots, jobs::JobScheduler* scheduler);

  // Runs `submit`, which queues one comparison job with the scheduler, when the line has room; throws
  // Error(kResourceExhausted) naming the limits otherwise. Returns how much work was running or waiting before it.
  int SubmitJob(const std::function<void()>& submit);

  // Waits in line for a device slot for a save or an analysis. Throws Error(kResourceExhausted) naming the limits
  // when the line is full, Error(kCancelled) when stop() (polled) turned true first.
  Lease Acquire(const std::function<bool()>& stop);

 private:
  // Work running or waiting now; throws Error(kResourceExhausted) when that leaves no room for more. Call with mu_
  // held.
  int CheckRoom();
  void Release(int device);

  const ServerLimits limits_;
  jobs::DeviceSlots* const slots_;
  jobs::JobScheduler* const scheduler_;
  // Makes a check of the line and the admission one step.
  std::mutex mu_;
  int calls_waiting_ = 0;  // saves and analyses admitted but without a slot yet
  int calls_running_ = 0;  // saves and analyses holding a slot
};

}  // namespace layerscope::server
