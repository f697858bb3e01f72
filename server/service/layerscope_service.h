// LayerscopeService: the handlers of layerscope.v1.Layerscope. Each authenticates its caller (Authenticator),
// validates its request (RequestValidator) and translates results back (proto_convert.h); failures become statuses
// (status.h) and the server keeps serving. Comparisons run as jobs of the JobScheduler (CompareJobRunner): Compare
// submits one and streams it as WatchJob does, cancelling it when its caller goes away. One log line per RPC with
// its user, job id, outcome and time.
#pragma once

#include <string>

#include "layerscope/v1/layerscope.grpc.pb.h"
#include "server/config/server_config.h"
#include "server/jobs/job_scheduler.h"
#include "server/jobs/job_store.h"
#include "server/metrics/rpc_metrics.h"
#include "server/service/authenticator.h"
#include "server/service/call_stop.h"
#include "server/service/model_call.h"
#include "server/service/model_registry.h"
#include "server/service/model_slots.h"

namespace layerscope::server {

class LayerscopeService final : public v1::Layerscope::Service {
 public:
  // Everything passed must outlive the service; `models` may still be loading. `slots` admits the comparisons (its
  // line is shared with the other services' saves and analyses); `rpc_metrics` is every service's. `load_settings`
  // describes how the model was loaded, for the result cache's model digest (content_key.h).
  LayerscopeService(const ServerLimits& limits, std::string data_root, const ModelRegistry* models,
                    jobs::JobStore* store, jobs::JobScheduler* scheduler, ModelSlots* slots, RpcMetrics* rpc_metrics,
                    const Authenticator* authenticator, std::string load_settings);

  // Ends every Compare and WatchJob stream at its next check (they answer UNAVAILABLE; Compare's jobs are
  // cancelled); later calls answer UNAVAILABLE at once. For a clean shutdown before grpc::Server::Shutdown() waits
  // for the handlers.
  void BeginShutdown();

  // The Prometheus text of the metrics endpoint: jobs by state, queue length, model readiness, resident memory and
  // the RPCs' latencies and outcomes.
  std::string MetricsText();

  grpc::Status ListModels(grpc::ServerContext* context, const v1::ListModelsRequest* request,
                          v1::ListModelsResponse* response) override;
  grpc::Status ListModes(grpc::ServerContext* context, const v1::ListModesRequest* request,
                         v1::ListModesResponse* response) override;
  grpc::Status ListCapturePoints(grpc::ServerContext* context, const v1::ListCapturePointsRequest* request,
                                 v1::ListCapturePointsResponse* response) override;
  grpc::Status Compare(grpc::ServerContext* context, const v1::CompareRequest* request,
                       grpc::ServerWriter<v1::CompareEvent>* writer) override;
  grpc::Status SubmitJob(grpc::ServerContext* context, const v1::SubmitJobRequest* request, v1::Job* response) override;
  grpc::Status WatchJob(grpc::ServerContext* context, const v1::WatchJobRequest* request,
                        grpc::ServerWriter<v1::CompareEvent>* writer) override;
  grpc::Status GetJob(grpc::ServerContext* context, const v1::GetJobRequest* request, v1::Job* response) override;
  grpc::Status ListJobs(grpc::ServerContext* context, const v1::ListJobsRequest* request,
                        v1::ListJobsResponse* response) override;
  grpc::Status CancelJob(grpc::ServerContext* context, const v1::CancelJobRequest* request, v1::Job* response) override;

 private:
  struct StreamStats;

  // Validates and submits a comparison for `owner`; `detail` gets what the log line says about it and `ahead` how
  // many jobs were queued or running before it. Throws Error.
  jobs::Job Submit(const std::string& owner, const v1::CompareRequest& request, bool use_cache, std::string* detail,
                   int* ahead);
  // Streams job `id`'s events to `writer` until the job is final (its status) or the call stops.
  grpc::Status StreamJob(grpc::ServerContext* context, const std::string& id, int ahead,
                         grpc::ServerWriter<v1::CompareEvent>* writer, StreamStats* stats);
  // The job, when `principal` may see it; NOT_FOUND otherwise (as for an unknown id, so that ids of others' jobs
  // tell nothing).
  grpc::Status FindJob(const auth::Principal& principal, const std::string& id, jobs::Job* job);

  const ServerLimits limits_;
  const std::string data_root_;
  const ModelRegistry* models_;
  jobs::JobStore* store_;
  jobs::JobScheduler* scheduler_;
  ModelSlots* slots_;
  RpcMetrics* rpc_metrics_;
  const Authenticator* authenticator_;
  const std::string load_settings_;
  CallStop stop_;
  const ModelCallFrame frame_;  // the catalogue handlers' frame (model_call.h)
};

}  // namespace layerscope::server
