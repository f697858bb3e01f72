// CompareCall: one Compare RPC read to its end (or cancelled part way), for tests against the real server.
#pragma once

#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>
#include <vector>

#include "layerscope/v1/layerscope.grpc.pb.h"

namespace layerscope::server::testing {

struct CompareOutcome {
  std::vector<v1::CompareEvent> events;
  grpc::Status status;
};

// Calls Compare and reads every event. `on_event` (optional) sees each one as it arrives and may cancel the call
// through the context it is given (the client side of a disconnect).
CompareOutcome RunCompare(v1::Layerscope::Stub& stub, const v1::CompareRequest& request,
                          const std::function<void(const v1::CompareEvent&, grpc::ClientContext*)>& on_event = {},
                          std::chrono::seconds deadline = std::chrono::seconds(120));

// A comparison long enough to be interrupted or caught running: 64 one-sample batches of 256 tokens for the
// reference and each of fp16 and bf16, 192 forward passes.
v1::CompareRequest LongRequest();

}  // namespace layerscope::server::testing
