// One admission for everything that runs the model (server/service/model_slots.h), through the real layerscoped: a
// save, an analysis and a comparison share the --max-concurrent slots of each device and the --max-queued line.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "layerscope/v1/analysis.grpc.pb.h"
#include "layerscope/v1/captures.grpc.pb.h"
#include "layerscope/v1/layerscope.grpc.pb.h"
#include "tests/server/compare_call.h"
#include "tests/support/server_process.h"

namespace layerscope::server {
namespace {

using testing::LongRequest;
using testing::RunCompare;

// A save long enough to be caught running: 64 one-sample batches of 256 tokens for each of two modes.
v1::SaveRequest LongSave() {
  v1::SaveRequest request;
  request.add_modes("fp32");
  request.add_modes("fp16");
  request.add_layers(0);
  request.add_points("mixer_output");
  request.set_samples(64);
  request.set_seq_len(256);
  request.set_batch_size(1);
  return request;
}

v1::ModelEffectRequest SmallEffect() {
  v1::ModelEffectRequest request;
  request.mutable_comparison()->add_modes("fp16");
  request.mutable_comparison()->set_samples(1);
  request.mutable_comparison()->set_seq_len(16);
  return request;
}

grpc::Status CallEffect(v1::Analysis::Stub& stub, std::chrono::milliseconds deadline) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + deadline);
  v1::ModelEffectResponse response;
  return stub.ModelEffect(&context, SmallEffect(), &response);
}

grpc::Status SubmitLong(v1::Layerscope::Stub& stub, v1::Job* job) {
  grpc::ClientContext context;
  v1::SubmitJobRequest request;
  *request.mutable_request() = LongRequest();
  request.set_no_cache(true);
  return stub.SubmitJob(&context, request, job);
}

void Cancel(v1::Layerscope::Stub& stub, const std::string& id) {
  grpc::ClientContext context;
  v1::CancelJobRequest request;
  request.set_job_id(id);
  v1::Job job;
  EXPECT_TRUE(stub.CancelJob(&context, request, &job).ok());
}

TEST(ModelSlotsTest, AnAnalysisWaitsForARunningSaveAndTheLineIsSharedWithComparisons) {
  ServerProcess server({"--no-quantize", "--max-concurrent", "1", "--max-queued", "1"});
  auto captures = v1::Captures::NewStub(server.NewChannel());
  auto analysis = v1::Analysis::NewStub(server.NewChannel());
  auto layerscope = v1::Layerscope::NewStub(server.NewChannel());

  // The save holds the one slot from its first progress until it is cancelled.
  grpc::ClientContext save_context;
  std::unique_ptr<grpc::ClientReader<v1::SaveChunk>> save = captures->Save(&save_context, LongSave());
  v1::SaveChunk chunk;
  while (save->Read(&chunk) && !chunk.has_progress()) {
  }
  ASSERT_TRUE(chunk.has_progress()) << save->Finish().error_message();

  // An analysis waits in line for the slot rather than being refused: here until its deadline.
  EXPECT_EQ(CallEffect(*analysis, std::chrono::milliseconds(500)).error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);

  // One analysis waiting fills the line (max-queued 1); the next analysis and a comparison are refused at once.
  // Which of two callers gets the one place in line is a race: the waiting caller tries again while a probe holds
  // it, the probe while the place is free, until the waiting caller holds it and the probe is refused.
  grpc::Status waited;
  std::thread waiting([&] {
    do {
      waited = CallEffect(*analysis, std::chrono::seconds(120));
    } while (waited.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED);
  });
  grpc::Status refused;
  for (int attempt = 0; attempt < 100; ++attempt) {
    refused = CallEffect(*analysis, std::chrono::milliseconds(200));
    if (refused.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) break;
  }
  const std::string busy =
      "the server is busy: 2 comparison(s), save(s) and analyses running or waiting, this server's limits "
      "max-concurrent = 1 per device on 1 device(s) and max-queued = 1; try again later";
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(refused.error_message(), busy);
  // The same race for the comparison: a probe whose deadline passed leaves the line only when the server notices,
  // and meanwhile the waiting caller is refused and tries again; a comparison that came in during that gap takes the
  // place, waits out its short deadline and tries again, until the waiting caller holds the place.
  testing::CompareOutcome compare;
  for (int attempt = 0; attempt < 30; ++attempt) {
    compare = RunCompare(*layerscope, LongRequest(), {}, std::chrono::seconds(2));
    if (compare.status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) break;
  }
  EXPECT_EQ(compare.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(compare.status.error_message(), busy);

  // Once the save ends, the waiting analysis gets the slot and its answer.
  save_context.TryCancel();
  while (save->Read(&chunk)) {
  }
  EXPECT_EQ(save->Finish().error_code(), grpc::StatusCode::CANCELLED);
  waiting.join();
  EXPECT_TRUE(waited.ok()) << waited.error_message();
}

TEST(ModelSlotsTest, ASaveIsRefusedAtOnceWhenARunningComparisonFillsTheLine) {
  ServerProcess server({"--no-quantize", "--max-concurrent", "1", "--max-queued", "0"});
  auto captures = v1::Captures::NewStub(server.NewChannel());
  auto layerscope = v1::Layerscope::NewStub(server.NewChannel());
  v1::Job job;
  ASSERT_TRUE(SubmitLong(*layerscope, &job).ok());

  // The line holds nothing beyond the running job: a save is refused at once, naming the limits.
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  std::unique_ptr<grpc::ClientReader<v1::SaveChunk>> save = captures->Save(&context, LongSave());
  v1::SaveChunk chunk;
  EXPECT_FALSE(save->Read(&chunk));
  const grpc::Status status = save->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(status.error_message(),
            "the server is busy: 1 comparison(s), save(s) and analyses running or waiting, this server's limits "
            "max-concurrent = 1 per device on 1 device(s) and max-queued = 0; try again later");
  Cancel(*layerscope, job.id());
}

TEST(ModelSlotsTest, TheLineCountsEveryDevicesSlots) {
  // Two devices of one slot each and no waiting line: two comparisons are admitted, a third is refused.
  ServerProcess server({"--no-quantize", "--device", "cpu,cpu", "--max-concurrent", "1", "--max-queued", "0"});
  auto layerscope = v1::Layerscope::NewStub(server.NewChannel());
  v1::Job first, second, third;
  ASSERT_TRUE(SubmitLong(*layerscope, &first).ok());
  const grpc::Status admitted = SubmitLong(*layerscope, &second);
  EXPECT_TRUE(admitted.ok()) << admitted.error_message();
  const grpc::Status refused = SubmitLong(*layerscope, &third);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(refused.error_message(),
            "the server is busy: 2 comparison(s), save(s) and analyses running or waiting, this server's limits "
            "max-concurrent = 1 per device on 2 device(s) and max-queued = 0; try again later");
  Cancel(*layerscope, first.id());
  if (admitted.ok()) Cancel(*layerscope, second.id());
}

}  // namespace
}  // namespace layerscope::server
