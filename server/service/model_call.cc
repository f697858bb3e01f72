#include "server/service/model_call.h"

#include <chrono>

#include "server/service/rpc_log.h"

namespace layerscope::server {
namespace {

grpc::Status Serve(const ModelCallFrame& frame, const char* method, grpc::ServerContext* context, bool wait_for_models,
                   const std::function<void(std::string* detail)>& work) {
  const auto start = std::chrono::steady_clock::now();
  auth::Principal principal;
  std::string detail;
  grpc::Status status = frame.authenticator->Authenticate(*context, &principal);
  if (status.ok() && (!wait_for_models || frame.stop->WaitForModels(*frame.models, context, &status))) {
    try {
      work(&detail);
    } catch (...) {
      status = frame.stop->CurrentExceptionStatus(context);
    }
  }
  LogRpc(*frame.metrics, method, context, principal, status, start, detail);
  return status;
}

}  // namespace

grpc::Status ServeModelCall(const ModelCallFrame& frame, const char* method, grpc::ServerContext* context,
                            const std::function<void(std::string* detail)>& work) {
  return Serve(frame, method, context, /*wait_for_models=*/true, work);
}

grpc::Status ServeCall(const ModelCallFrame& frame, const char* method, grpc::ServerContext* context,
                       const std::function<void(std::string* detail)>& work) {
  return Serve(frame, method, context, /*wait_for_models=*/false, work);
}

}  // namespace layerscope::server
