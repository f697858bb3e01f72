#include "tests/server/compare_call.h"

namespace layerscope::server::testing {

CompareOutcome RunCompare(v1::Layerscope::Stub& stub, const v1::CompareRequest& request,
                          const std::function<void(const v1::CompareEvent&, grpc::ClientContext*)>& on_event,
                          std::chrono::seconds deadline) {
  CompareOutcome outcome;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + deadline);
  auto reader = stub.Compare(&context, request);
  v1::CompareEvent event;
  while (reader->Read(&event)) {
    outcome.events.push_back(event);
    if (on_event) on_event(event, &context);
  }
  outcome.status = reader->Finish();
  return outcome;
}

v1::CompareRequest LongRequest() {
  v1::CompareRequest request;
  request.add_modes("fp16");
  request.add_modes("bf16");
  request.set_samples(64);
  request.set_seq_len(256);
  request.set_batch_size(1);
  return request;
}

}  // namespace layerscope::server::testing
