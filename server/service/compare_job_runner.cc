#include "server/service/compare_job_runner.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <utility>

#include "core/util/error.h"
#include "layerscope/v1/layerscope.pb.h"
#include "server/service/proto_convert.h"
#include "server/service/request_validator.h"

namespace layerscope::server {
namespace {

std::string Serialize(const v1::CompareEvent& event) {
  std::string data;
  event.SerializeToString(&data);
  return data;
}

// Forwards the core's events to the job's output: rows as stored events, a checkpoint once a mode's rows are all
// out, progress counted over the whole job (a resumed run's steps are offset by the modes it skips).
class OutputObserver : public CompareObserver {
 public:
  OutputObserver(jobs::JobOutput* output, const jobs::StopFlag* stop, int first_mode, int64_t rows_per_mode,
                 int64_t steps_skipped, int64_t steps_total)
      : output_(output),
        stop_(stop),
        mode_index_(first_mode),
        rows_per_mode_(rows_per_mode),
        steps_skipped_(steps_skipped),
        steps_total_(steps_total),
        batches_(0) {}

  void set_batches(int64_t batches) { batches_ = batches; }

  void OnProgress(const CompareProgress& progress) override {
    output_->EmitProgress(steps_skipped_ + progress.steps_done, steps_total_);
  }

  void OnRow(const MetricsRow& row) override {
    v1::CompareEvent event;
    ToProto(row, event.mutable_row());
    output_->EmitRow(Serialize(event));
    if (++rows_of_mode_ == rows_per_mode_) {
      output_->EmitCheckpoint(mode_index_++, batches_ - 1);
      rows_of_mode_ = 0;
    }
  }

  bool IsCancelled() override { return stop_->stop_requested(); }

 private:
  jobs::JobOutput* output_;
  const jobs::StopFlag* stop_;
  int mode_index_;
  const int64_t rows_per_mode_;
  const int64_t steps_skipped_;
  const int64_t steps_total_;
  int64_t batches_;
  int64_t rows_of_mode_ = 0;
};

}  // namespace

int64_t CompareSteps(int samples, int batch_size, size_t modes) {
  const int64_t batches = (samples + batch_size - 1) / batch_size;
  return batches * static_cast<int64_t>(modes + 1);
}

CompareJobRunner::CompareJobRunner(const ServerLimits& limits, std::string data_root, const ModelRegistry* models)
    : limits_(limits), data_root_(std::move(data_root)), models_(models) {}

jobs::JobRunner::Result CompareJobRunner::Run(const jobs::Job& job, int /*device_index*/, const jobs::StopFlag& stop,
                                              jobs::JobOutput& output) {
  v1::CompareRequest request;
  if (!request.ParseFromString(job.request)) {
    throw Error(ErrorKind::kDataLoss, "job " + job.id + ": its stored request cannot be read");
  }
  const RequestValidator validator(models_->entries(), limits_, data_root_);
  ValidatedCompare compare = validator.Validate(request);
  const auto start = std::chrono::steady_clock::now();
  const int modes = static_cast<int>(compare.request.modes.size());
  const int64_t batches = (compare.samples + compare.request.batch_size - 1) / compare.request.batch_size;

  // A resumed job continues after the last mode whose rows were all stored.
  int first_mode = 0;
  if (job.resume == jobs::ResumeKind::kResumed && job.checkpoint.valid) first_mode = job.checkpoint.mode_index + 1;
  CompareRequest run = compare.request;
  run.modes.erase(run.modes.begin(), run.modes.begin() + std::min(first_mode, modes));

  const int64_t rows_per_mode = static_cast<int64_t>(compare.request.layers.size() * compare.request.points.size());
  OutputObserver observer(&output, &stop, first_mode, rows_per_mode, first_mode * batches,
                          CompareSteps(compare.samples, compare.request.batch_size, compare.request.modes.size()));
  observer.set_batches(batches);
  spdlog::info("job {} of {}: running{} on {}", job.id, job.owner,
               first_mode > 0 ? " from mode " + std::to_string(first_mode) + " (resumed)" : "",
               compare.model->info.device);
  if (!run.modes.empty()) {
    try {
      models_->model(*compare.model).Compare(run, observer);
    } catch (const Error& error) {
      if (error.kind() == ErrorKind::kCancelled && stop.stop_requested()) {
        spdlog::info("job {} of {}: stopped", job.id, job.owner);
        return Result::kStopped;
      }
      spdlog::warn("job {} of {}: failed: {}", job.id, job.owner, error.what());
      throw;
    }
  }
  if (stop.stop_requested()) {
    spdlog::info("job {} of {}: stopped", job.id, job.owner);
    return Result::kStopped;
  }

  v1::CompareEvent event;
  v1::CompareSummary* summary = event.mutable_summary();
  summary->set_model(compare.model->info.name);
  summary->set_reference_mode(compare.request.reference.name);
  for (const ModeSpec& mode : compare.request.modes) summary->add_modes(mode.name);
  for (int layer : compare.request.layers) summary->add_layers(layer);
  for (CapturePoint point : compare.request.points) summary->add_points(CapturePointName(point));
  summary->set_samples(compare.samples);
  summary->set_seq_len(compare.seq_len);
  summary->set_batch_size(compare.request.batch_size);
  summary->set_device(compare.model->info.device);
  summary->set_server_seconds(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  summary->set_rows(rows_per_mode * modes);
  output.EmitRow(Serialize(event));
  spdlog::info("job {} of {}: done in {:.3f} s", job.id, job.owner, summary->server_seconds());
  return Result::kDone;
}

}  // namespace layerscope::server
