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

CompareOutcome RunWatch(v1::Layerscope::Stub& stub, const std::string& id, std::chrono::seconds deadline) {
  CompareOutcome outcome;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + deadline);
  v1::WatchJobRequest request;
  request.set_job_id(id);
  auto reader = stub.WatchJob(&context, request);
  for (v1::CompareEvent event; reader->Read(&event);) outcome.events.push_back(event);
  outcome.status = reader->Finish();
  return outcome;
}

std::vector<std::string> RowsOf(const std::vector<v1::CompareEvent>& events) {
  std::vector<std::string> rows;
  for (const auto& event : events) {
    if (event.has_row()) rows.push_back(event.row().SerializeAsString());
  }
  return rows;
}

v1::CompareRequest SmallRequest() {
  v1::CompareRequest request;
  request.add_modes("fp16");
  request.add_layers(0);
  request.add_layers(-1);
  request.add_points("mixer_input");
  request.add_points("mixer_output");
  request.set_samples(2);
  request.set_seq_len(32);
  return request;
}

v1::CompareRequest EveryRowRequest(int samples, int seq_len) {
  v1::CompareRequest request;
  request.add_modes("fp16");
  request.add_modes("bf16");
  request.set_samples(samples);
  request.set_seq_len(seq_len);
  return request;
}

v1::CompareRequest ResumableRequest(const std::vector<std::string>& modes) {
  v1::CompareRequest request;
  for (const std::string& mode : modes) request.add_modes(mode);
  request.add_layers(0);
  request.add_layers(-1);
  request.add_points("mixer_output");
  request.set_samples(8);
  request.set_seq_len(128);
  request.set_batch_size(1);
  return request;
}

v1::CompareRequest LongRequest() {
  v1::CompareRequest request = EveryRowRequest(64, 256);
  request.set_batch_size(1);
  return request;
}

}  // namespace layerscope::server::testing
