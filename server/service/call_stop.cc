#include "server/service/call_stop.h"

#include "core/util/error.h"
#include "server/service/status.h"

namespace layerscope::server {

void CallStop::BeginShutdown(const ModelRegistry& models) {
  shutting_down_ = true;
  models.WakeAll();
}

bool CallStop::Stopping(grpc::ServerContext* context) const { return shutting_down_ || context->IsCancelled(); }

grpc::Status CallStop::StoppedStatus(grpc::ServerContext* context) const {
  if (shutting_down_ && !context->IsCancelled()) {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "the server is shutting down");
  }
  return grpc::Status(grpc::StatusCode::CANCELLED, "cancelled by the caller");
}

grpc::Status CallStop::CurrentExceptionStatus(grpc::ServerContext* context) const {
  try {
    throw;
  } catch (const Error& error) {
    if (error.kind() == ErrorKind::kCancelled) return StoppedStatus(context);
  } catch (...) {
  }
  return server::CurrentExceptionStatus();
}

bool CallStop::WaitForModels(const ModelRegistry& models, grpc::ServerContext* context, grpc::Status* status) const {
  if (models.WaitReady([&] { return Stopping(context); }) && !Stopping(context)) return true;
  *status = StoppedStatus(context);
  return false;
}

}  // namespace layerscope::server
