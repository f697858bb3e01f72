// ServeModelCall: the frame of a handler whose work needs the models (ListModels, Save, Plan, the analyses):
// authenticate the caller, wait for the models, run the work and turn what it throws into the call's status (a stop
// into CallStop::StoppedStatus), then log the call and record it in the RPC metrics (LogRpc). ServeCall: the same
// for a handler that needs no model (the catalogues of modes and capture points), without the wait.
#pragma once

#include <grpcpp/server_context.h>
#include <grpcpp/support/status.h>

#include <functional>
#include <string>

#include "server/metrics/rpc_metrics.h"
#include "server/service/authenticator.h"
#include "server/service/call_stop.h"
#include "server/service/model_registry.h"

namespace layerscope::server {

// What a service passes for every call: all must outlive it.
struct ModelCallFrame {
  const Authenticator* authenticator;
  const ModelRegistry* models;
  const CallStop* stop;
  RpcMetrics* metrics;
};

// `work` may throw; it sets `*detail`, what the log line says about the call.
grpc::Status ServeModelCall(const ModelCallFrame& frame, const char* method, grpc::ServerContext* context,
                            const std::function<void(std::string* detail)>& work);
grpc::Status ServeCall(const ModelCallFrame& frame, const char* method, grpc::ServerContext* context,
                       const std::function<void(std::string* detail)>& work);

}  // namespace layerscope::server
