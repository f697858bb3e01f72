// CompareCall: one Compare RPC read to its end (or cancelled part way), for tests against the real server.
#pragma once

#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>
#include <string>
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

// Calls WatchJob for job `id` and reads every event.
CompareOutcome RunWatch(v1::Layerscope::Stub& stub, const std::string& id,
                        std::chrono::seconds deadline = std::chrono::seconds(120));

// The rows among `events`, each serialized, for comparing bit for bit.
std::vector<std::string> RowsOf(const std::vector<v1::CompareEvent>& events);

// Two samples of 32 tokens, one mode (fp16), two layers, two points: 4 rows.
v1::CompareRequest SmallRequest();

// fp16 and bf16 at every layer and default point, over `samples` samples of `seq_len` tokens.
v1::CompareRequest EveryRowRequest(int samples, int seq_len);

// A job slow enough to be killed after its first mode's rows are stored: 8 one-sample passes of 128 tokens for the
// reference and each of `modes`, at layers 0 and -1 and point mixer_output (2 rows a mode).
v1::CompareRequest ResumableRequest(const std::vector<std::string>& modes);

// A comparison long enough to be interrupted or caught running: 64 one-sample batches of 256 tokens for the
// reference and each of fp16 and bf16, 192 forward passes.
v1::CompareRequest LongRequest();

}  // namespace layerscope::server::testing
