// CallStop: when a handler's call should stop, for every service of the server: the caller went away (or its
// deadline passed), or the server began shutting down. The status such a call answers tells the two apart.
#pragma once

#include <grpcpp/server_context.h>
#include <grpcpp/support/status.h>

#include <atomic>

#include "server/service/model_registry.h"

namespace layerscope::server {

class CallStop {
 public:
  // From now on every call stops at its next check; `models` wakes its waiters so that they check now.
  void BeginShutdown(const ModelRegistry& models);

  bool Stopping(grpc::ServerContext* context) const;
  // UNAVAILABLE when the server is stopping, else CANCELLED.
  grpc::Status StoppedStatus(grpc::ServerContext* context) const;
  // The status for the exception being handled (call only inside a catch block): an Error(kCancelled), which the
  // work throws when it saw Stopping(), is StoppedStatus(); anything else as CurrentExceptionStatus() (status.h).
  grpc::Status CurrentExceptionStatus(grpc::ServerContext* context) const;
  // Waits for the models; false (and *status set) when the call stopped first. Ready models do not make a stopping
  // server take new work.
  bool WaitForModels(const ModelRegistry& models, grpc::ServerContext* context, grpc::Status* status) const;

 private:
  std::atomic<bool> shutting_down_{false};
};

}  // namespace layerscope::server
