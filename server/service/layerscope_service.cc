#include "server/service/layerscope_service.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <map>
#include <optional>

#include "core/util/error.h"
#include "server/service/compare_job_runner.h"
#include "server/service/content_key.h"
#include "server/service/proto_convert.h"
#include "server/service/request_validator.h"
#include "server/service/rpc_log.h"
#include "server/service/status.h"

namespace layerscope::server {
namespace {

using Clock = std::chrono::steady_clock;

template <typename Items>
std::string JoinNames(const Items& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ",") + item;
  return out;
}

// What the log line of a Compare says about it.
std::string Describe(const ValidatedCompare& compare) {
  std::vector<std::string> modes, layers, points;
  for (const ModeSpec& mode : compare.request.modes) modes.push_back(mode.name);
  for (int layer : compare.request.layers) layers.push_back(std::to_string(layer));
  for (CapturePoint point : compare.request.points) points.push_back(CapturePointName(point));
  return "model=" + compare.model->info.name + " reference=" + compare.request.reference.name +
         " modes=" + JoinNames(modes) + " layers=" + JoinNames(layers) + " points=" + JoinNames(points) +
         " samples=" + std::to_string(compare.samples) + " seq_len=" + std::to_string(compare.seq_len) +
         " batch_size=" + std::to_string(compare.request.batch_size) + " data=" + compare.data;
}

// The Progress events of a job's forward passes, rebuilt from its step count: the store keeps the count, not the
// events, and the stream of a job (also one re-attached later, or answered from the cache) is to read as Compare's
// always did: one event per pass ("fp16 batch 3/10"), the reference's first, and a mode's rows after its last pass.
class ProgressReplay {
 public:
  explicit ProgressReplay(const jobs::Job& job) : total_(job.steps_total) {
    v1::CompareRequest request;
    request.ParseFromString(job.request);
    passes_.push_back(request.reference_mode().empty() ? "fp32" : request.reference_mode());
    passes_.insert(passes_.end(), request.modes().begin(), request.modes().end());
    batches_ = std::max<int64_t>(1, total_ / static_cast<int64_t>(passes_.size()));
  }

  // The step that finishes `mode`'s passes (every step when the name is unknown).
  int64_t LastStepOf(const std::string& mode) const {
    for (size_t i = 1; i < passes_.size(); ++i) {
      if (passes_[i] == mode) return static_cast<int64_t>(i + 1) * batches_;
    }
    return total_;
  }

  // Writes the events of the steps after those sent up to `step`; false when the caller is gone.
  bool SendUntil(int64_t step, grpc::ServerWriter<v1::CompareEvent>* writer) {
    for (step = std::min(step, total_); sent_ < step;) {
      const int64_t index = sent_++;
      v1::CompareEvent event;
      v1::Progress* progress = event.mutable_progress();
      progress->set_steps_done(sent_);
      progress->set_steps_total(total_);
      progress->set_stage(passes_[std::min<size_t>(index / batches_, passes_.size() - 1)] + " batch " +
                          std::to_string(index % batches_ + 1) + "/" + std::to_string(batches_));
      if (!writer->Write(event)) return false;
    }
    return true;
  }

  int64_t sent() const { return sent_; }

 private:
  std::vector<std::string> passes_;  // the reference, then the modes
  int64_t batches_ = 1;
  const int64_t total_;
  int64_t sent_ = 0;
};

}  // namespace

// How far a streamed job got, for the log line.
struct LayerscopeService::StreamStats {
  int64_t steps_done = 0;
  int64_t steps_total = 0;
  int64_t rows = 0;
  std::string Describe() const {
    return " steps=" + std::to_string(steps_done) + "/" + std::to_string(steps_total) + " rows=" + std::to_string(rows);
  }
};

LayerscopeService::LayerscopeService(const ServerLimits& limits, std::string data_root, const ModelRegistry* models,
                                     jobs::JobStore* store, jobs::JobScheduler* scheduler, ModelSlots* slots,
                                     RpcMetrics* rpc_metrics, const Authenticator* authenticator,
                                     std::string load_settings)
    : limits_(limits),
      data_root_(std::move(data_root)),
      models_(models),
      store_(store),
      scheduler_(scheduler),
      slots_(slots),
      rpc_metrics_(rpc_metrics),
      authenticator_(authenticator),
      load_settings_(std::move(load_settings)),
      frame_{authenticator_, models_, &stop_, rpc_metrics_} {}

void LayerscopeService::BeginShutdown() { stop_.BeginShutdown(*models_); }

grpc::Status LayerscopeService::ListModels(grpc::ServerContext* context, const v1::ListModelsRequest*,
                                           v1::ListModelsResponse* response) {
  return ServeModelCall(frame_, "ListModels", context, [&](std::string*) {
    for (const ModelEntry& entry : models_->entries()) ToProto(entry.info, entry.is_default, response->add_models());
  });
}

grpc::Status LayerscopeService::ListModes(grpc::ServerContext* context, const v1::ListModesRequest*,
                                          v1::ListModesResponse* response) {
  return ServeCall(frame_, "ListModes", context, [&](std::string*) {
    for (const ModeSpec& mode : BuiltinModes()) ToProto(mode, response->add_modes());
    response->set_spec_syntax(ModeSpecSyntax());
  });
}

grpc::Status LayerscopeService::ListCapturePoints(grpc::ServerContext* context, const v1::ListCapturePointsRequest*,
                                                  v1::ListCapturePointsResponse* response) {
  return ServeCall(frame_, "ListCapturePoints", context, [&](std::string*) {
    for (const auto& point : AllCapturePoints()) ToProto(point, response->add_points());
  });
}

jobs::Job LayerscopeService::Submit(const std::string& owner, const v1::CompareRequest& request, bool use_cache,
                                    std::string* detail, int* ahead) {
  const RequestValidator validator(models_->entries(), limits_, data_root_);
  const ValidatedCompare compare = validator.Validate(request);
  *detail = Describe(compare);
  jobs::NewJob job;
  job.owner = owner;
  request.SerializeToString(&job.request);
  // A few stat() calls: cheap next to a comparison, and right for every model the server holds.
  job.content_key = ContentKey(ModelDigest(compare.model->info, load_settings_), compare);
  job.steps_total = CompareSteps(compare.samples, compare.request.batch_size, compare.request.modes.size());

  jobs::SubmitOptions options;
  options.use_cache = use_cache;
  jobs::Job submitted;
  *ahead = slots_->SubmitJob([&] { submitted = scheduler_->Submit(job, options); });
  return submitted;
}

grpc::Status LayerscopeService::StreamJob(grpc::ServerContext* context, const std::string& id, int ahead,
                                          grpc::ServerWriter<v1::CompareEvent>* writer, StreamStats* stats) {
  // How often a waiting stream checks whether its caller or the server gave up.
  constexpr auto kPoll = std::chrono::milliseconds(100);
  jobs::JobWatch watch = scheduler_->Watch(id);
  std::optional<ProgressReplay> replay;
  bool said_waiting = false;
  for (;;) {
    if (stop_.Stopping(context)) return stop_.StoppedStatus(context);
    const jobs::WatchUpdate update = watch.Next(kPoll);
    const jobs::Job& job = update.job;
    if (!replay) replay.emplace(job);
    stats->steps_total = job.steps_total;
    // A job queued behind others says so first; one a worker is about to take does not.
    if (job.state == jobs::JobState::kQueued && ahead > 0 && !said_waiting) {
      said_waiting = true;
      v1::CompareEvent event;
      event.mutable_progress()->set_steps_total(job.steps_total);
      event.mutable_progress()->set_stage("waiting for " + std::to_string(ahead) + " comparison(s) ahead");
      if (!writer->Write(event)) return stop_.StoppedStatus(context);
    }
    for (const jobs::ResultRow& row : update.rows) {
      v1::CompareEvent event;
      if (!event.ParseFromString(row.data)) {
        return grpc::Status(grpc::StatusCode::DATA_LOSS,
                            "job " + id + ": stored result " + std::to_string(row.seq) + " cannot be read");
      }
      if (event.has_row() && !replay->SendUntil(replay->LastStepOf(event.row().mode()), writer)) {
        return stop_.StoppedStatus(context);
      }
      if (!writer->Write(event)) return stop_.StoppedStatus(context);
      if (event.has_row()) ++stats->rows;
    }
    if (!replay->SendUntil(job.steps_done, writer)) return stop_.StoppedStatus(context);
    stats->steps_done = replay->sent();
    if (!update.done) continue;
    switch (job.state) {
      case jobs::JobState::kSucceeded: return grpc::Status::OK;
      case jobs::JobState::kCancelled:
        return grpc::Status(grpc::StatusCode::CANCELLED,
                            "job " + id + " was cancelled" + (job.error.empty() ? "" : ": " + job.error));
      default: return grpc::Status(StatusCodeFromName(job.error_code), job.error);
    }
  }
}

std::string LayerscopeService::MetricsText() {
  std::map<jobs::JobState, int> by_state;
  for (jobs::JobState state : {jobs::JobState::kQueued, jobs::JobState::kRunning, jobs::JobState::kSucceeded,
                               jobs::JobState::kFailed, jobs::JobState::kCancelled}) {
    by_state[state] = 0;
  }
  for (const jobs::Job& job : store_->List()) ++by_state[job.state];
  std::string out =
      "# HELP layerscope_jobs Jobs in the job store, by state.\n"
      "# TYPE layerscope_jobs gauge\n";
  for (const auto& [state, count] : by_state) {
    out += std::string("layerscope_jobs{state=\"") + jobs::JobStateName(state) + "\"} " + std::to_string(count) + "\n";
  }
  const jobs::JobScheduler::Counts counts = scheduler_->counts();
  out += "# HELP layerscope_queue_length Jobs waiting for a worker.\n# TYPE layerscope_queue_length gauge\n";
  out += "layerscope_queue_length " + std::to_string(counts.queued) + "\n";
  out += "# HELP layerscope_model_ready Whether the model is loaded (1) or still loading (0).\n";
  out += "# TYPE layerscope_model_ready gauge\nlayerscope_model_ready " + std::to_string(models_->ready()) + "\n";
  // Resident memory of the process: /proc/self/statm's second field, in pages.
  std::ifstream statm("/proc/self/statm");
  int64_t size_pages = 0, resident_pages = 0;
  if (statm >> size_pages >> resident_pages) {
    out += "# HELP layerscope_resident_memory_bytes Resident memory of the server process.\n";
    out += "# TYPE layerscope_resident_memory_bytes gauge\nlayerscope_resident_memory_bytes " +
           std::to_string(resident_pages * sysconf(_SC_PAGESIZE)) + "\n";
  }
  return out + rpc_metrics_->Render();
}

grpc::Status LayerscopeService::FindJob(const auth::Principal& principal, const std::string& id, jobs::Job* job) {
  std::optional<jobs::Job> found = store_->Get(id);
  if (!found || (found->owner != principal.user && !principal.is_admin())) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND, "job_id: no job \"" + id + "\" of yours");
  }
  *job = std::move(*found);
  return grpc::Status::OK;
}

grpc::Status LayerscopeService::Compare(grpc::ServerContext* context, const v1::CompareRequest* request,
                                        grpc::ServerWriter<v1::CompareEvent>* writer) {
  const auto start = Clock::now();
  auth::Principal principal;
  std::string detail;
  StreamStats stats;
  jobs::Job job;
  grpc::Status status = authenticator_->Authenticate(*context, &principal);
  if (status.ok() && stop_.WaitForModels(*models_, context, &status)) {
    try {
      int ahead = 0;
      job = Submit(principal.user, *request, /*use_cache=*/true, &detail, &ahead);
      status = StreamJob(context, job.id, ahead, writer, &stats);
    } catch (...) {
      status = stop_.CurrentExceptionStatus(context);
    }
    // A comparison lives as long as its call: one that ended before its job did (the caller went away, the server
    // is stopping) cancels it.
    if (!job.id.empty() && !status.ok()) {
      try {
        scheduler_->Cancel(job.id);
      } catch (const Error& error) {
        spdlog::warn("job {} of {}: cannot cancel it: {}", job.id, principal.user, error.what());
      }
    }
  }
  if (!detail.empty()) detail = "job=" + job.id + " " + detail + stats.Describe();
  LogRpc(*rpc_metrics_, "Compare", context, principal, status, start, detail);
  return status;
}

grpc::Status LayerscopeService::SubmitJob(grpc::ServerContext* context, const v1::SubmitJobRequest* request,
                                          v1::Job* response) {
  const auto start = Clock::now();
  auth::Principal principal;
  std::string detail;
  grpc::Status status = authenticator_->Authenticate(*context, &principal);
  if (status.ok() && stop_.WaitForModels(*models_, context, &status)) {
    try {
      int ahead = 0;
      const jobs::Job job = Submit(principal.user, request->request(), !request->no_cache(), &detail, &ahead);
      ToProto(job, response);
      detail = "job=" + job.id + " " + detail + (job.cached_from.empty() ? "" : " cached_from=" + job.cached_from);
    } catch (...) {
      status = CurrentExceptionStatus();
    }
  }
  LogRpc(*rpc_metrics_, "SubmitJob", context, principal, status, start, detail);
  return status;
}

grpc::Status LayerscopeService::WatchJob(grpc::ServerContext* context, const v1::WatchJobRequest* request,
                                         grpc::ServerWriter<v1::CompareEvent>* writer) {
  const auto start = Clock::now();
  auth::Principal principal;
  StreamStats stats;
  jobs::Job job;
  grpc::Status status = authenticator_->Authenticate(*context, &principal);
  if (status.ok()) status = FindJob(principal, request->job_id(), &job);
  if (status.ok()) {
    try {
      const jobs::JobScheduler::Counts counts = scheduler_->counts();
      status = StreamJob(context, job.id, counts.running + counts.queued - 1, writer, &stats);
    } catch (...) {
      status = CurrentExceptionStatus();
    }
  }
  LogRpc(*rpc_metrics_, "WatchJob", context, principal, status, start, "job=" + request->job_id() + stats.Describe());
  return status;
}

grpc::Status LayerscopeService::GetJob(grpc::ServerContext* context, const v1::GetJobRequest* request,
                                       v1::Job* response) {
  const auto start = Clock::now();
  auth::Principal principal;
  jobs::Job job;
  grpc::Status status = authenticator_->Authenticate(*context, &principal);
  try {
    if (status.ok()) status = FindJob(principal, request->job_id(), &job);
    if (status.ok()) ToProto(job, response);
  } catch (...) {
    status = CurrentExceptionStatus();
  }
  LogRpc(*rpc_metrics_, "GetJob", context, principal, status, start, "job=" + request->job_id());
  return status;
}

grpc::Status LayerscopeService::ListJobs(grpc::ServerContext* context, const v1::ListJobsRequest*,
                                         v1::ListJobsResponse* response) {
  const auto start = Clock::now();
  auth::Principal principal;
  grpc::Status status = authenticator_->Authenticate(*context, &principal);
  try {
    if (status.ok()) {
      for (const jobs::Job& job : store_->List(principal.is_admin() ? "" : principal.user)) {
        ToProto(job, response->add_jobs());
      }
    }
  } catch (...) {
    status = CurrentExceptionStatus();
  }
  LogRpc(*rpc_metrics_, "ListJobs", context, principal, status, start, "jobs=" + std::to_string(response->jobs_size()));
  return status;
}

grpc::Status LayerscopeService::CancelJob(grpc::ServerContext* context, const v1::CancelJobRequest* request,
                                          v1::Job* response) {
  const auto start = Clock::now();
  auth::Principal principal;
  jobs::Job job;
  std::string detail = "job=" + request->job_id();
  grpc::Status status = authenticator_->Authenticate(*context, &principal);
  try {
    if (status.ok()) status = FindJob(principal, request->job_id(), &job);
    if (status.ok()) {
      switch (scheduler_->Cancel(job.id)) {
        case jobs::JobScheduler::CancelResult::kCancelled: detail += " cancelled"; break;
        case jobs::JobScheduler::CancelResult::kStopping: detail += " stopping"; break;
        case jobs::JobScheduler::CancelResult::kAlreadyFinal: detail += " already final"; break;
      }
      status = FindJob(principal, job.id, &job);
      if (status.ok()) ToProto(job, response);
    }
  } catch (...) {
    status = CurrentExceptionStatus();
  }
  LogRpc(*rpc_metrics_, "CancelJob", context, principal, status, start, detail);
  return status;
}

}  // namespace layerscope::server
