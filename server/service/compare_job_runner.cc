#include "server/service/compare_job_runner.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>
#include <map>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

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

// The job's output as its shares reach it from their threads: rows stored in the request's mode order with a
// checkpoint after each mode (a mode's rows wait until every earlier mode is out, so a checkpoint never covers a
// mode whose rows are not stored), and progress over the whole job. The first failure of a share is kept here, and
// tells the other shares to stop.
class OrderedOutput {
 public:
  OrderedOutput(jobs::JobOutput* output, int first_mode, int64_t rows_per_mode, int64_t batches, int shares,
                int64_t steps_total)
      : output_(output),
        next_mode_(first_mode),
        rows_per_mode_(rows_per_mode),
        batches_(batches),
        steps_skipped_(first_mode * batches),
        steps_total_(steps_total),
        share_steps_(shares, 0) {}

  // A row of mode `mode_index` (the request's numbering).
  void Row(int mode_index, const MetricsRow& row) {
    v1::CompareEvent event;
    ToProto(row, event.mutable_row());
    std::lock_guard<std::mutex> lock(mu_);
    pending_[mode_index].push_back(Serialize(event));
    for (auto next = pending_.find(next_mode_);
         next != pending_.end() && static_cast<int64_t>(next->second.size()) == rows_per_mode_;
         next = pending_.find(next_mode_)) {
      for (const std::string& data : next->second) output_->EmitRow(data);
      output_->EmitCheckpoint(next_mode_, batches_ - 1);
      pending_.erase(next);
      ++next_mode_;
    }
  }

  // Share `share` has taken `steps_done` forward passes: its reference's batches, then its modes'. The reference
  // counts once for the job, as far as the slowest share has computed it.
  void Progress(int share, int64_t steps_done) {
    std::lock_guard<std::mutex> lock(mu_);
    share_steps_[share] = steps_done;
    int64_t reference = batches_;
    int64_t modes = 0;
    for (int64_t steps : share_steps_) {
      reference = std::min(reference, steps);
      modes += std::max<int64_t>(0, steps - batches_);
    }
    output_->EmitProgress(steps_skipped_ + reference + modes, steps_total_);
  }

  void Fail(std::exception_ptr error) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!error_) error_ = std::move(error);
    failed_ = true;
  }
  bool failed() const { return failed_.load(); }
  std::exception_ptr error() {
    std::lock_guard<std::mutex> lock(mu_);
    return error_;
  }

 private:
  jobs::JobOutput* const output_;
  std::mutex mu_;
  int next_mode_;  // the first mode whose rows are not stored yet
  const int64_t rows_per_mode_;
  const int64_t batches_;
  const int64_t steps_skipped_;  // a resumed job's modes before its checkpoint
  const int64_t steps_total_;
  std::map<int, std::vector<std::string>> pending_;  // rows of modes not stored yet, by mode index
  std::vector<int64_t> share_steps_;
  std::exception_ptr error_;
  std::atomic<bool> failed_{false};
};

// The core's events of one share, forwarded to the job's OrderedOutput.
class ShareObserver : public CompareObserver {
 public:
  // `job_steps` is what the share counts for in the job's steps (its batches of the reference and of its modes);
  // `forward_passes` what the core will really run for it, more when the reference is recomputed for every mode
  // (ResidentModel::PlanCompare). Progress is scaled from the latter to the former, so that the job's steps_total
  // stays the one announced at submission.
  ShareObserver(OrderedOutput* output, const jobs::StopFlag* stop, int share, const std::vector<int>* mode_indices,
                int64_t rows_per_mode, int64_t job_steps, int64_t forward_passes)
      : output_(output),
        stop_(stop),
        share_(share),
        mode_indices_(mode_indices),
        rows_per_mode_(rows_per_mode),
        job_steps_(job_steps),
        forward_passes_(std::max<int64_t>(1, forward_passes)) {}

  void OnProgress(const CompareProgress& progress) override {
    output_->Progress(share_, progress.steps_done * job_steps_ / forward_passes_);
  }

  void OnRow(const MetricsRow& row) override { output_->Row((*mode_indices_)[rows_++ / rows_per_mode_], row); }

  bool IsCancelled() override { return stop_->stop_requested() || output_->failed(); }

  void OnTimings(const CompareTimings& timings) override { timings_ = timings; }
  const CompareTimings& timings() const { return timings_; }

 private:
  OrderedOutput* output_;
  const jobs::StopFlag* stop_;
  const int share_;
  const std::vector<int>* mode_indices_;  // the request's index of each mode of this share, in order
  const int64_t rows_per_mode_;
  const int64_t job_steps_;
  const int64_t forward_passes_;
  int64_t rows_ = 0;
  CompareTimings timings_;
};

// The stages of every share, summed by name in the order they first ran (shares in order): with several devices
// they are device time, which adds up to more than the wall time when the shares ran at once.
void AddStages(const std::vector<CompareTimings>& shares, v1::CompareSummary* summary) {
  for (const CompareTimings& timings : shares) {
    for (const StageTime& time : timings) {
      v1::StageTime* stage = nullptr;
      for (v1::StageTime& existing : *summary->mutable_stages()) {
        if (existing.stage() == time.stage) stage = &existing;
      }
      if (stage == nullptr) {
        stage = summary->add_stages();
        stage->set_stage(time.stage);
      }
      stage->set_seconds(stage->seconds() + time.seconds);
    }
  }
}

std::string Joined(const std::vector<std::string>& parts) {
  std::string out;
  for (const std::string& part : parts) out += (out.empty() ? "" : ",") + part;
  return out;
}

}  // namespace

int64_t CompareSteps(int samples, int batch_size, size_t modes) {
  const int64_t batches = (samples + batch_size - 1) / batch_size;
  return batches * static_cast<int64_t>(modes + 1);
}

CompareJobRunner::CompareJobRunner(const ServerLimits& limits, std::string data_root, const ModelRegistry* models,
                                   jobs::DeviceSlots* slots)
    : limits_(limits), data_root_(std::move(data_root)), models_(models), slots_(slots) {}

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
  first_mode = std::min(first_mode, modes);

  // The remaining modes dealt round-robin: share s runs modes first_mode + s, first_mode + s + shares, ... so that
  // the first modes finish early on every device and checkpoints advance as in a one-device run.
  const int shares = std::min(slots_->devices(), modes - first_mode);
  std::vector<std::vector<int>> mode_indices(shares);
  for (int m = first_mode; m < modes; ++m) mode_indices[(m - first_mode) % shares].push_back(m);

  const int64_t rows_per_mode = static_cast<int64_t>(compare.request.layers.size() * compare.request.points.size());
  OrderedOutput ordered(&output, first_mode, rows_per_mode, batches, shares,
                        CompareSteps(compare.samples, compare.request.batch_size, compare.request.modes.size()));
  spdlog::info("job {} of {}: running{} in {} share(s)", job.id, job.owner,
               first_mode > 0 ? " from mode " + std::to_string(first_mode) + " (resumed)" : "", shares);
  std::vector<std::string> devices_used(shares);
  std::vector<CompareTimings> timings(shares);
  auto run_share = [&](int share) {
    const int device = slots_->Acquire(share, [&] { return stop.stop_requested() || ordered.failed(); });
    if (device < 0) return;
    try {
      const ResidentModel& model = models_->model(*compare.model, device);
      devices_used[share] = model.info().device;
      CompareRequest run = compare.request;
      run.modes.clear();
      std::vector<std::string> names;
      for (int m : mode_indices[share]) {
        run.modes.push_back(compare.request.modes[m]);
        names.push_back(compare.request.modes[m].name);
      }
      spdlog::info("job {} of {}: modes {} on device {} ({})", job.id, job.owner, Joined(names), device,
                   devices_used[share]);
      const int64_t share_steps = batches * static_cast<int64_t>(run.modes.size() + 1);
      ShareObserver observer(&ordered, &stop, share, &mode_indices[share], rows_per_mode, share_steps,
                             model.PlanCompare(run).forward_passes);
      model.Compare(run, observer);
      timings[share] = observer.timings();
    } catch (...) {
      ordered.Fail(std::current_exception());
    }
    slots_->Release(device);
  };
  std::vector<std::thread> threads;
  for (int share = 1; share < shares; ++share) threads.emplace_back(run_share, share);
  if (shares > 0) run_share(0);
  for (std::thread& thread : threads) thread.join();

  if (std::exception_ptr error = ordered.error()) {
    try {
      std::rethrow_exception(error);
    } catch (const Error& failure) {
      if (failure.kind() == ErrorKind::kCancelled && stop.stop_requested()) {
        spdlog::info("job {} of {}: stopped", job.id, job.owner);
        return Result::kStopped;
      }
      spdlog::warn("job {} of {}: failed: {}", job.id, job.owner, failure.what());
      throw;
    } catch (const std::exception& failure) {
      spdlog::warn("job {} of {}: failed: {}", job.id, job.owner, failure.what());
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
  // The devices this run's shares ran on (a resumed job whose modes were all stored ran none: the model's).
  summary->set_device(shares > 0 ? Joined(devices_used) : models_->model(*compare.model).info().device);
  summary->set_server_seconds(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  summary->set_rows(rows_per_mode * modes);
  AddStages(timings, summary);
  output.EmitRow(Serialize(event));
  spdlog::info("job {} of {}: done in {:.3f} s", job.id, job.owner, summary->server_seconds());
  return Result::kDone;
}

}  // namespace layerscope::server
