#include "client/connection.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

#include "client/errors.h"

namespace layerscope::client {

std::string ResolveToken(const std::string& flag) {
  if (!flag.empty()) return flag;
  const char* env = std::getenv("LAYERSCOPE_TOKEN");
  return env == nullptr ? "" : env;
}

namespace {

std::string ReadPem(const std::string& flag, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream pem;
  pem << in.rdbuf();
  if (!in || pem.str().empty()) throw ClientError(kExitUsage, flag + " " + path + ": cannot read it");
  return pem.str();
}

std::shared_ptr<grpc::ChannelCredentials> ChannelCredentials(const Credentials& credentials) {
  if (credentials.tls_ca.empty()) return grpc::InsecureChannelCredentials();
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = ReadPem("--tls-ca", credentials.tls_ca);
  if (!credentials.tls_cert.empty()) {
    options.pem_cert_chain = ReadPem("--tls-cert", credentials.tls_cert);
    options.pem_private_key = ReadPem("--tls-key", credentials.tls_key);
  }
  return grpc::SslCredentials(options);
}

}  // namespace

std::string ResolveServerAddress(const std::string& flag) {
  if (!flag.empty()) return flag;
  const char* env = std::getenv("LAYERSCOPE_SERVER");
  if (env != nullptr && *env != '\0') return env;
  return kDefaultServer;
}

Connection::Connection(const std::string& address, std::optional<std::chrono::milliseconds> call_timeout,
                       const Credentials& credentials)
    : address_(address), token_(credentials.token), call_timeout_(call_timeout) {
  channel_ = grpc::CreateChannel(address_, ChannelCredentials(credentials));
  stub_ = v1::Layerscope::NewStub(channel_);
  captures_stub_ = v1::Captures::NewStub(channel_);
  analysis_stub_ = v1::Analysis::NewStub(channel_);

  // gRPC would keep retrying a refused connection with backoff until each call's deadline; watching the channel
  // state instead answers at the first failed attempt, and the deadline bounds an address that never answers.
  const auto deadline = std::chrono::system_clock::now() + kConnectTimeout;
  grpc_connectivity_state state = channel_->GetState(/*try_to_connect=*/true);
  while (state != GRPC_CHANNEL_READY) {
    if (state == GRPC_CHANNEL_TRANSIENT_FAILURE || state == GRPC_CHANNEL_SHUTDOWN) {
      // A plaintext client fails this way against a TLS server too (and a TLS client against a plaintext one).
      throw ClientError(
          kExitUnreachable,
          "cannot connect to layerscoped at " + address_ +
              (credentials.tls_ca.empty()
                   ? " (connection failed; set --server or LAYERSCOPE_SERVER; a TLS server needs --tls-ca)"
                   : " (connection or TLS handshake failed; check --server and --tls-ca)"));
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
  if (!token_.empty()) context->AddMetadata("authorization", "Bearer " + token_);
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
  return ReadComparison("compare", stub_->Compare(&context, request).get(), on_progress);
}

CompareResult Connection::ReadComparison(const std::string& what, grpc::ClientReader<v1::CompareEvent>* reader,
                                         const std::function<void(const v1::Progress&)>& on_progress) const {
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
  if (!status.ok()) throw CallError(what, status);
  if (!summary) throw ClientError(kExitFailure, what + ": the server ended the stream without a summary");
  return CompareResult(std::move(*summary), std::move(rows));
}

v1::Job Connection::SubmitJob(const v1::CompareRequest& request) {
  grpc::ClientContext context;
  PrepareContext(&context);
  v1::SubmitJobRequest submit;
  *submit.mutable_request() = request;
  v1::Job job;
  const grpc::Status status = stub_->SubmitJob(&context, submit, &job);
  if (!status.ok()) throw CallError("submit", status);
  return job;
}

CompareResult Connection::WatchJob(const std::string& id, const std::function<void(const v1::Progress&)>& on_progress) {
  grpc::ClientContext context;
  PrepareContext(&context);
  v1::WatchJobRequest request;
  request.set_job_id(id);
  return ReadComparison("watch", stub_->WatchJob(&context, request).get(), on_progress);
}

v1::Job Connection::GetJob(const std::string& id) {
  grpc::ClientContext context;
  PrepareContext(&context);
  v1::GetJobRequest request;
  request.set_job_id(id);
  v1::Job job;
  const grpc::Status status = stub_->GetJob(&context, request, &job);
  if (!status.ok()) throw CallError("job", status);
  return job;
}

v1::ListJobsResponse Connection::ListJobs() {
  grpc::ClientContext context;
  PrepareContext(&context);
  v1::ListJobsResponse response;
  const grpc::Status status = stub_->ListJobs(&context, v1::ListJobsRequest(), &response);
  if (!status.ok()) throw CallError("jobs", status);
  return response;
}

v1::Job Connection::CancelJob(const std::string& id) {
  grpc::ClientContext context;
  PrepareContext(&context);
  v1::CancelJobRequest request;
  request.set_job_id(id);
  v1::Job job;
  const grpc::Status status = stub_->CancelJob(&context, request, &job);
  if (!status.ok()) throw CallError("cancel", status);
  return job;
}

v1::BreakdownResponse Connection::Breakdown(const v1::BreakdownRequest& request) {
  grpc::ClientContext context;
  PrepareContext(&context);
  v1::BreakdownResponse response;
  const grpc::Status status = analysis_stub_->Breakdown(&context, request, &response);
  if (!status.ok()) throw CallError("breakdown", status);
  return response;
}

v1::ModelEffectResponse Connection::ModelEffect(const v1::ModelEffectRequest& request) {
  grpc::ClientContext context;
  PrepareContext(&context);
  v1::ModelEffectResponse response;
  const grpc::Status status = analysis_stub_->ModelEffect(&context, request, &response);
  if (!status.ok()) throw CallError("effect", status);
  return response;
}

v1::LocalizeResponse Connection::Localize(const v1::LocalizeRequest& request) {
  grpc::ClientContext context;
  PrepareContext(&context);
  v1::LocalizeResponse response;
  const grpc::Status status = analysis_stub_->Localize(&context, request, &response);
  if (!status.ok()) throw CallError("localize", status);
  return response;
}

v1::SavePlan Connection::PlanSave(const v1::SaveRequest& request) {
  grpc::ClientContext context;
  PrepareContext(&context);
  v1::SavePlan plan;
  const grpc::Status status = captures_stub_->Plan(&context, request, &plan);
  if (!status.ok()) throw CallError("save", status);
  return plan;
}

void Connection::Save(const v1::SaveRequest& request, const std::function<void(const v1::SaveChunk&)>& on_chunk) {
  grpc::ClientContext context;
  PrepareContext(&context);
  std::unique_ptr<grpc::ClientReader<v1::SaveChunk>> reader = captures_stub_->Save(&context, request);
  v1::SaveChunk chunk;
  try {
    while (reader->Read(&chunk)) on_chunk(chunk);
  } catch (...) {
    context.TryCancel();
    reader->Finish();
    throw;
  }
  const grpc::Status status = reader->Finish();
  if (!status.ok()) throw CallError("save", status);
}

}  // namespace layerscope::client
