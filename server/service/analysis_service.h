// AnalysisService: the handlers of layerscope.v1.Analysis (analysis.proto): error breakdowns, model-level effects
// and error localization (localization_handler.h). Each authenticates its caller (Authenticator), validates the
// request's comparison as Compare does (RequestValidator) plus its own fields, and runs the analysis
// (core/analysis/) on the handler's thread.
//
// An analysis runs on a device slot of the server's ModelSlots, the one admission that comparisons and saves go
// through too: it waits in line for a slot within its deadline, or is refused (RESOURCE_EXHAUSTED, naming the
// limits) when the line is full.
#pragma once

#include <string>

#include "layerscope/v1/analysis.grpc.pb.h"
#include "server/service/model_service_state.h"

namespace layerscope::server {

// Bounds on a BreakdownRequest's own fields.
inline constexpr int kDefaultTopK = 10;
inline constexpr int kMaxTopK = 1000;
inline constexpr int kDefaultHistogramBins = 40;
inline constexpr int kMaxHistogramBins = 1000;

class AnalysisService final : public v1::Analysis::Service {
 public:
  // Everything passed must outlive the service; `models` may still be loading.
  AnalysisService(const ServerLimits& limits, std::string data_root, const ModelRegistry* models, ModelSlots* slots,
                  RpcMetrics* rpc_metrics, const Authenticator* authenticator);

  // Ends every analysis at its next forward pass (UNAVAILABLE); later calls answer UNAVAILABLE at once.
  void BeginShutdown();

  grpc::Status Breakdown(grpc::ServerContext* context, const v1::BreakdownRequest* request,
                         v1::BreakdownResponse* response) override;
  grpc::Status ModelEffect(grpc::ServerContext* context, const v1::ModelEffectRequest* request,
                           v1::ModelEffectResponse* response) override;
  grpc::Status Localize(grpc::ServerContext* context, const v1::LocalizeRequest* request,
                        v1::LocalizeResponse* response) override;

 private:
  ModelServiceState state_;
};

}  // namespace layerscope::server
