#include "client/connection.h"

#include <cstdio>
#include <cstdlib>
#include <utility>
#include <vector>

#include "client/errors.h"

namespace layerscope::client {

std::string ResolveServerAddress(const std::string& flag) {
  if (!flag.empty()) return flag;
  const char* env = std::getenv("LAYERSCOPE_SERVER");
  if (env != nullptr && *env != '\0') return env;
  return kDefaultServer;
}

Connection::Connection(const std::string& address, std::optional<std::chrono::milliseconds> call_timeout)
    : address_(address), call_timeout_(call_timeout) {
  channel_ = grpc::CreateChannel(address_, grpc::InsecureChannelCredentials());
  stub_ = v1::Layerscope::NewStub(channel_);

  // gRPC would keep retrying a refused connection with backoff until each call's deadline; watching the channel
  // state instead answers at the first failed attempt, and the deadline bounds an address that never answers.
  const auto deadline = std::chrono::system_clock::now() + kConnectTimeout;
  grpc_connectivity_state state = channel_->GetState(/*try_to_connect=*/true);
  while (state != GRPC_CHANNEL_READY) {
    if (state == GRPC_CHANNEL_TRANSIENT_FAILURE || state == GRPC_CHANNEL_SHUTDOWN) {
      throw ClientError(kExitUnreachable, "cannot connect to layerscoped at " + address_ +
                                              " (connection failed; set --server or LAYERSCOPE_SERVER)");
    }
    if (!channel_->WaitForStateChange(state, deadline)) {
      throw ClientError(kExitUnreachable, "no answer from layerscoped at " + address_ + " within " +
                                              std::to_string(kConnectTimeout.count()) +
                                              " s (set --server or LAYERSCOPE_SERVER)");
    }
    state = channel_->GetState(/*try_to_connect=*/true);
  }
}

ClientError Connection::CallError(const std::string& what, const grpc::Status& status) const {
  if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED && call_timeout_) {
    char seconds[32];
    std::snprintf(seconds, sizeof(seconds), "%g", call_timeout_->count() / 1000.0);
    return ClientError(kExitFailure, what + ": no complete answer within --timeout " + seconds + " s");
  }
  return StatusError(what, status);
}

void Connection::PrepareContext(grpc::ClientContext* context) const {
  if (call_timeout_) context->set_deadline(std::chrono::system_clock::now() + *call_timeout_);
}

v1::ListModelsResponse Connection::ListModels() {
  grpc::ClientContext context;
  PrepareContext(&context);
  v1::ListModelsResponse response;
  const grpc::Status status = stub_->ListModels(&context, v1::ListModelsRequest(), &response);
  if (!status.ok()) throw CallError("models", status);
  return response;
}

v1::ListModesResponse Connection::ListModes() {
  grpc::ClientContext context;
  PrepareContext(&context);
  v1::ListModesResponse response;
  const grpc::Status status = stub_->ListModes(&context, v1::ListModesRequest(), &response);
  if (!status.ok()) throw CallError("modes", status);
  return response;
}

v1::ListCapturePointsResponse Connection::ListCapturePoints() {
  grpc::ClientContext context;
  PrepareContext(&context);
  v1::ListCapturePointsResponse response;
  const grpc::Status status = stub_->ListCapturePoints(&context, v1::ListCapturePointsRequest(), &response);
  if (!status.ok()) throw CallError("points", status);
  return response;
}

CompareResult Connection::Compare(const v1::CompareRequest& request,
                                  const std::function<void(const v1::Progress&)>& on_progress) {
  grpc::ClientContext context;
  PrepareContext(&context);
  std::unique_ptr<grpc::ClientReader<v1::CompareEvent>> reader = stub_->Compare(&context, request);
  std::vector<v1::MetricsRow> rows;
  std::optional<v1::CompareSummary> summary;
  v1::CompareEvent event;
  while (reader->Read(&event)) {
    switch (event.event_case()) {
      case v1::CompareEvent::kProgress: on_progress(event.progress()); break;
      case v1::CompareEvent::kRow: rows.push_back(std::move(*event.mutable_row())); break;
      case v1::CompareEvent::kSummary: summary = std::move(*event.mutable_summary()); break;
      // A newer server's event this client does not know: skipping it keeps the client compatible.
      case v1::CompareEvent::EVENT_NOT_SET: break;
    }
  }
  const grpc::Status status = reader->Finish();
  if (!status.ok()) throw CallError("compare", status);
  if (!summary) throw ClientError(kExitFailure, "compare: the server ended the stream without a summary");
  return CompareResult(std::move(*summary), std::move(rows));
}

}  // namespace layerscope::client
