// ModelServiceState: what a service whose calls run the models holds (Captures, Analysis): the limits and data root
// its requests are validated against, the models and their slots, the stop of its calls and the frame every call is
// served in (ServeModelCall). Built in place and never copied: the frame points at the stop.
#pragma once

#include <string>
#include <utility>

#include "server/config/server_config.h"
#include "server/metrics/rpc_metrics.h"
#include "server/service/authenticator.h"
#include "server/service/call_stop.h"
#include "server/service/model_call.h"
#include "server/service/model_registry.h"
#include "server/service/model_slots.h"

namespace layerscope::server {

struct ModelServiceState {
  // Everything passed must outlive the state; `models` may still be loading.
  ModelServiceState(const ServerLimits& limits, std::string data_root, const ModelRegistry* models, ModelSlots* slots,
                    RpcMetrics* rpc_metrics, const Authenticator* authenticator)
      : limits(limits),
        data_root(std::move(data_root)),
        models(models),
        slots(slots),
        frame{authenticator, models, &stop, rpc_metrics} {}
  ModelServiceState(const ModelServiceState&) = delete;
  ModelServiceState& operator=(const ModelServiceState&) = delete;

  // Ends every call at its next forward pass (UNAVAILABLE); later calls answer UNAVAILABLE at once.
  void BeginShutdown() { stop.BeginShutdown(*models); }

  const ServerLimits limits;
  const std::string data_root;
  const ModelRegistry* const models;
  ModelSlots* const slots;
  CallStop stop;
  const ModelCallFrame frame;  // after stop, which it points to
};

}  // namespace layerscope::server
