// LogRpc: the one log line of every RPC of the server's services (method, peer, outcome, time, user and what the
// call did), and its record in the Prometheus RPC metrics.
#pragma once

#include <grpcpp/server_context.h>
#include <grpcpp/support/status.h>

#include <chrono>
#include <string>

#include "server/auth/token_store.h"
#include "server/metrics/rpc_metrics.h"

namespace layerscope::server {

// `start` is when the handler began; `what` may be empty.
void LogRpc(RpcMetrics& metrics, const char* method, grpc::ServerContext* context, const auth::Principal& principal,
            const grpc::Status& status, std::chrono::steady_clock::time_point start, const std::string& what);

}  // namespace layerscope::server
