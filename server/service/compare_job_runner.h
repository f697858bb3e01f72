// CompareJobRunner: runs a job's comparison for the JobScheduler. The job's request is a serialized
// v1.CompareRequest, validated again when the job runs (the model and the data root are the server's, and the job
// may have waited across a restart). Results are stored as serialized v1.CompareEvents, so that WatchJob streams
// them as stored: one row event per MetricsRow as it becomes final, then the summary.
//
// Several devices: the job's modes are dealt round-robin into one share per device (at most one per mode), and the
// shares run at once, each on a device slot it takes from DeviceSlots (so every device runs at most
// --max-concurrent shares, of this job and others, saves and analyses included). Each share computes the reference for
// itself, the same way on every device (same batches, same model weights: the replicas are copies), so a mode's rows do
// not depend on the device or on which modes share it: they are bit for bit those of a one-device run. Rows are stored
// in the request's mode order: a mode's rows wait until every earlier mode's are out.
//
// A mode's rows all become final at its last batch, so the runner checkpoints after each mode (in request order);
// a job resumed after a crash skips the modes before its checkpoint (their rows are kept) and runs the reference
// and the rest again.
#pragma once

#include <string>

#include "server/config/server_config.h"
#include "server/jobs/device_slots.h"
#include "server/jobs/job_scheduler.h"
#include "server/service/model_registry.h"

namespace layerscope::server {

class CompareJobRunner : public jobs::JobRunner {
 public:
  // `models` must outlive the runner and be loaded, with a replica on each of `slots`' devices, before the
  // scheduler starts. `slots` (the server's one, which saves and analyses take theirs from too: model_slots.h) must
  // outlive the runner.
  CompareJobRunner(const ServerLimits& limits, std::string data_root, const ModelRegistry* models,
                   jobs::DeviceSlots* slots);

  // `device_index` (the scheduler's worker's) is not used: a job takes whichever device slots are free.
  Result Run(const jobs::Job& job, int device_index, const jobs::StopFlag& stop, jobs::JobOutput& output) override;

 private:
  const ServerLimits limits_;
  const std::string data_root_;
  const ModelRegistry* models_;
  jobs::DeviceSlots* slots_;
};

// Forward passes a validated comparison takes: every batch of the reference and of each mode. Progress counts the
// reference once however many devices compute it.
int64_t CompareSteps(int samples, int batch_size, size_t modes);

}  // namespace layerscope::server
