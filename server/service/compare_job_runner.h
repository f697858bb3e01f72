// CompareJobRunner: runs a job's comparison for the JobScheduler. The job's request is a serialized
// v1.CompareRequest, validated again when the job runs (the model and the data root are the server's, and the job
// may have waited across a restart). Results are stored as serialized v1.CompareEvents, so that WatchJob streams
// them as stored: one row event per MetricsRow as it becomes final, then the summary.
//
// A mode's rows all become final at its last batch, so the runner checkpoints after each mode; a job resumed after
// a crash skips the modes before its checkpoint (their rows are kept) and runs the reference and the rest again.
#pragma once

#include <string>

#include "server/config/server_config.h"
#include "server/jobs/job_scheduler.h"
#include "server/service/model_registry.h"

namespace layerscope::server {

class CompareJobRunner : public jobs::JobRunner {
 public:
  // `models` must outlive the runner and be loaded before the scheduler starts.
  CompareJobRunner(const ServerLimits& limits, std::string data_root, const ModelRegistry* models);

  Result Run(const jobs::Job& job, int device_index, const jobs::StopFlag& stop, jobs::JobOutput& output) override;

 private:
  const ServerLimits limits_;
  const std::string data_root_;
  const ModelRegistry* models_;
};

// Forward passes a validated comparison takes: every batch of the reference and of each mode.
int64_t CompareSteps(int samples, int batch_size, size_t modes);

}  // namespace layerscope::server
