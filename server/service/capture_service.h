// CaptureService: the handlers of layerscope.v1.Captures (captures.proto), which download captured activations.
// Each authenticates its caller (Authenticator) and validates its request (RequestValidator::ValidateSave, the
// checks Compare's fields get). Save runs ResidentModel::Run batch by batch on the handler's thread and streams each
// batch's captures as it comes, so the server holds one batch of one mode at a time, whatever the save's size.
//
// A save runs on a device slot of the server's ModelSlots, the one admission that comparisons and analyses go
// through too: it waits in line for a slot within its deadline, or is refused (RESOURCE_EXHAUSTED, naming the
// limits) when the line is full.
#pragma once

#include "layerscope/v1/captures.grpc.pb.h"
#include "server/service/model_service_state.h"

namespace layerscope::server {

// The most array data one FileData message carries.
inline constexpr size_t kSaveChunkBytes = size_t{1} << 20;

class CaptureService final : public v1::Captures::Service {
 public:
  // Everything passed must outlive the service; `models` may still be loading.
  CaptureService(const ServerLimits& limits, std::string data_root, const ModelRegistry* models, ModelSlots* slots,
                 RpcMetrics* rpc_metrics, const Authenticator* authenticator);

  // Ends every Save at its next batch (UNAVAILABLE); later calls answer UNAVAILABLE at once.
  void BeginShutdown();

  grpc::Status Plan(grpc::ServerContext* context, const v1::SaveRequest* request, v1::SavePlan* response) override;
  grpc::Status Save(grpc::ServerContext* context, const v1::SaveRequest* request,
                    grpc::ServerWriter<v1::SaveChunk>* writer) override;

 private:
  ModelServiceState state_;
};

}  // namespace layerscope::server
