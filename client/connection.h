// Connection: the client's channel to one layerscoped server. Opening it waits a bounded time until the server
// answers, so a wrong address or a dead server gives one clear error instead of a hang; every call then turns a
// failed status into a ClientError naming what failed.
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "client/compare_result.h"
#include "client/errors.h"
#include "layerscope/v1/analysis.grpc.pb.h"
#include "layerscope/v1/captures.grpc.pb.h"
#include "layerscope/v1/layerscope.grpc.pb.h"

namespace layerscope::client {

inline constexpr char kDefaultServer[] = "127.0.0.1:50051";
inline constexpr std::chrono::seconds kConnectTimeout{5};

// How the client proves who it is and checks the server: a bearer token sent with every call, and TLS with the
// given root certificates (and a client certificate, for a server that requires one).
struct Credentials {
  std::string token;     // empty: none
  std::string tls_ca;    // PEM file; empty: plaintext
  std::string tls_cert;  // PEM files of the client certificate and its key; empty: none
  std::string tls_key;
};

// The token to send: `flag` (--token) when not empty, else $LAYERSCOPE_TOKEN (possibly empty).
std::string ResolveToken(const std::string& flag);

// The server to use: `flag` (--server) when not empty, else $LAYERSCOPE_SERVER when set and not empty, else
// kDefaultServer.
std::string ResolveServerAddress(const std::string& flag);

class Connection {
 public:
  // Connects to `address` (HOST:PORT). Throws ClientError (kExitUnreachable) as soon as the connection attempt fails
  // (e.g. refused), or when it has not succeeded within kConnectTimeout. `call_timeout` bounds each later call
  // (empty: no deadline). Throws ClientError (kExitUsage) when credentials.tls_ca cannot be read.
  Connection(const std::string& address, std::optional<std::chrono::milliseconds> call_timeout,
             const Credentials& credentials = {});

  v1::ListModelsResponse ListModels();
  v1::ListModesResponse ListModes();
  v1::ListCapturePointsResponse ListCapturePoints();
  // Runs one comparison and returns once the server has sent the summary; `on_progress` sees every progress event
  // as it arrives. A stream that fails or ends without a summary throws ClientError.
  CompareResult Compare(const v1::CompareRequest& request, const std::function<void(const v1::Progress&)>& on_progress);

  // Jobs (the .proto's SubmitJob ... CancelJob). WatchJob returns as Compare does, once the job's summary came.
  v1::Job SubmitJob(const v1::CompareRequest& request);
  CompareResult WatchJob(const std::string& id, const std::function<void(const v1::Progress&)>& on_progress);
  v1::Job GetJob(const std::string& id);
  v1::ListJobsResponse ListJobs();
  v1::Job CancelJob(const std::string& id);

  // Saves (captures.proto): what a save would send, and the save itself, each chunk handed to `on_chunk` as it
  // arrives (an exception from it cancels the call and propagates). Returns once the stream ended OK.
  v1::SavePlan PlanSave(const v1::SaveRequest& request);
  void Save(const v1::SaveRequest& request, const std::function<void(const v1::SaveChunk&)>& on_chunk);

  // Analysis (analysis.proto).
  v1::BreakdownResponse Breakdown(const v1::BreakdownRequest& request);
  v1::ModelEffectResponse ModelEffect(const v1::ModelEffectRequest& request);
  v1::LocalizeResponse Localize(const v1::LocalizeRequest& request);

 private:
  void PrepareContext(grpc::ClientContext* context) const;
  // StatusError, except that a deadline this client set is named as --timeout with its value.
  ClientError CallError(const std::string& what, const grpc::Status& status) const;

  // Reads a Compare or WatchJob stream to its end; `what` names the command in errors.
  CompareResult ReadComparison(const std::string& what, grpc::ClientReader<v1::CompareEvent>* reader,
                               const std::function<void(const v1::Progress&)>& on_progress) const;

  std::string address_;
  std::string token_;
  std::optional<std::chrono::milliseconds> call_timeout_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Layerscope::Stub> stub_;
  std::unique_ptr<v1::Captures::Stub> captures_stub_;
  std::unique_ptr<v1::Analysis::Stub> analysis_stub_;
};

}  // namespace layerscope::client
