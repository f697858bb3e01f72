// Several devices (--device cpu,cpu: two CPU workers, each with its replica of the model) through the real
// layerscoped: one job's modes are spread over both devices, and its rows are bit for bit those of a one-device
// server, in the request's mode order, with checkpoints that resume a killed job correctly.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "layerscope/v1/layerscope.grpc.pb.h"
#include "tests/server/compare_call.h"
#include "tests/server/test_dir.h"
#include "tests/support/server_process.h"

namespace layerscope::server {
namespace {

using testing::ResumableRequest;
using testing::RowsOf;
using testing::RunCompare;

// Small calibration, so that the quantized modes exist and the server loads quickly.
const std::vector<std::string> kSmallCalibration = {"--calibration-samples", "1", "--calibration-seq-len", "64"};

std::vector<std::string> With(std::vector<std::string> flags, const std::vector<std::string>& more) {
  flags.insert(flags.end(), more.begin(), more.end());
  return flags;
}

const v1::CompareSummary* SummaryOf(const std::vector<v1::CompareEvent>& events) {
  for (const auto& event : events) {
    if (event.has_summary()) return &event.summary();
  }
  return nullptr;
}

v1::Job GetJob(v1::Layerscope::Stub& stub, const std::string& id) {
  grpc::ClientContext context;
  v1::GetJobRequest request;
  request.set_job_id(id);
  v1::Job job;
  const grpc::Status status = stub.GetJob(&context, request, &job);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return job;
}

std::vector<v1::CompareEvent> WatchToTheEnd(v1::Layerscope::Stub& stub, const std::string& id) {
  testing::CompareOutcome outcome = testing::RunWatch(stub, id);
  EXPECT_TRUE(outcome.status.ok()) << outcome.status.error_message();
  return std::move(outcome.events);
}

TEST(MultiDeviceTest, TwoDevicesGiveTheOneDeviceRowsInModeOrderAndBothRunModes) {
  v1::CompareRequest request;
  for (const char* mode : {"fp16", "2-1", "bf16", "1", "3"}) request.add_modes(mode);
  request.add_layers(0);
  request.add_layers(-1);
  request.add_points("mixer_input");
  request.add_points("ssm_output");
  request.set_samples(4);
  request.set_seq_len(64);
  request.set_batch_size(2);

  ServerProcess one(kSmallCalibration);
  ServerProcess two(With(kSmallCalibration, {"--device", "cpu,cpu"}));
  auto one_stub = v1::Layerscope::NewStub(one.NewChannel());
  auto two_stub = v1::Layerscope::NewStub(two.NewChannel());

  const testing::CompareOutcome want = RunCompare(*one_stub, request);
  const testing::CompareOutcome got = RunCompare(*two_stub, request);
  ASSERT_TRUE(want.status.ok()) << want.status.error_message();
  ASSERT_TRUE(got.status.ok()) << got.status.error_message();
  const std::vector<std::string> rows = RowsOf(got.events);
  ASSERT_EQ(rows.size(), 5u * 2u * 2u);
  EXPECT_EQ(rows, RowsOf(want.events));
  // In the request's mode order although the modes ran on two devices.
  size_t i = 0;
  for (const auto& event : got.events) {
    if (event.has_row()) EXPECT_EQ(event.row().mode(), request.modes(static_cast<int>(i++ / 4))) << "row " << i;
  }

  const v1::CompareSummary* one_summary = SummaryOf(want.events);
  const v1::CompareSummary* two_summary = SummaryOf(got.events);
  ASSERT_NE(one_summary, nullptr);
  ASSERT_NE(two_summary, nullptr);
  EXPECT_EQ(one_summary->device(), "cpu");
  EXPECT_EQ(two_summary->device(), "cpu,cpu");
  EXPECT_EQ(two_summary->rows(), 20);
  // The modes dealt round-robin: fp16, bf16 and 3 on device 0, 2-1 and 1 on device 1, each on its own replica.
  const std::string log = two.Stderr();
  EXPECT_NE(log.find("modes fp16,bf16,3 on device 0 (cpu)"), std::string::npos) << log;
  EXPECT_NE(log.find("modes 2-1,1 on device 1 (cpu)"), std::string::npos) << log;
  EXPECT_NE(log.find("replicated model \"embedded\" from cpu to cpu"), std::string::npos) << log;

  grpc::ClientContext context;
  v1::ListModelsResponse models;
  ASSERT_TRUE(two_stub->ListModels(&context, {}, &models).ok());
  ASSERT_EQ(models.models_size(), 1);
  EXPECT_EQ(models.models(0).device(), "cpu,cpu");
}

v1::Job Submit(v1::Layerscope::Stub& stub, const v1::CompareRequest& request) {
  grpc::ClientContext context;
  v1::SubmitJobRequest submit;
  *submit.mutable_request() = request;
  v1::Job job;
  const grpc::Status status = stub.SubmitJob(&context, submit, &job);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return job;
}

TEST(MultiDeviceTest, TwoJobsRunAtOnceEachOnItsOwnDevice) {
  ServerProcess two({"--no-quantize", "--device", "cpu,cpu", "--max-concurrent", "1"});
  auto stub = v1::Layerscope::NewStub(two.NewChannel());
  v1::CompareRequest first = testing::LongRequest();
  first.clear_modes();
  first.add_modes("fp16");
  v1::CompareRequest second = first;
  second.set_modes(0, "bf16");

  const v1::Job a = Submit(*stub, first);
  // Once the first job has taken a forward pass it holds device 0's only slot.
  v1::Job a_now = a;
  for (int i = 0; i < 3000 && a_now.progress().steps_done() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    a_now = GetJob(*stub, a.id());
  }
  ASSERT_GT(a_now.progress().steps_done(), 0);
  const v1::Job b = Submit(*stub, second);
  bool both_running = false;
  for (int i = 0; i < 3000 && !both_running; ++i) {
    a_now = GetJob(*stub, a.id());
    const v1::Job b_now = GetJob(*stub, b.id());
    both_running = a_now.state() == v1::JOB_STATE_RUNNING && b_now.state() == v1::JOB_STATE_RUNNING &&
                   b_now.progress().steps_done() > 0;
    if (!both_running) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(both_running) << "the second job did not run beside the first";
  const std::string log = two.Stderr();
  EXPECT_NE(log.find("job " + a.id() + " of anonymous: modes fp16 on device 0 (cpu)"), std::string::npos) << log;
  EXPECT_NE(log.find("job " + b.id() + " of anonymous: modes bf16 on device 1 (cpu)"), std::string::npos) << log;
  for (const std::string& id : {a.id(), b.id()}) {
    grpc::ClientContext context;
    v1::CancelJobRequest cancel;
    cancel.set_job_id(id);
    v1::Job job;
    EXPECT_TRUE(stub->CancelJob(&context, cancel, &job).ok());
  }
}

TEST(MultiDeviceTest, AJobKilledMidwayResumesOnTwoDevicesWithTheOneDeviceRows) {
  // 8 one-sample passes of the reference and of each mode; device 0 runs fp16 then 2-1, device 1 bf16. fp16's
  // rows (checkpoint 0) are stored after device 0's 16th pass, and 2-1's 8 passes remain.
  const v1::CompareRequest request = ResumableRequest({"fp16", "bf16", "2-1"});
  const std::vector<std::string> flags = With(kSmallCalibration, {"--device", "cpu,cpu"});

  std::vector<std::string> want;
  {
    ServerProcess one(kSmallCalibration);
    auto stub = v1::Layerscope::NewStub(one.NewChannel());
    const testing::CompareOutcome outcome = RunCompare(*stub, request);
    ASSERT_TRUE(outcome.status.ok()) << outcome.status.error_message();
    want = RowsOf(outcome.events);
    ASSERT_EQ(want.size(), 6u);
  }

  testing::TestDir kept;
  const std::string data_dir = kept.Sub("data");
  v1::Job job;
  {
    ServerProcess two(flags);
    auto stub = v1::Layerscope::NewStub(two.NewChannel());
    job = Submit(*stub, request);
    for (int i = 0; i < 1500 && job.rows() < 2; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      job = GetJob(*stub, job.id());
    }
    // The checkpoint is the transaction after the mode's last row: give it a moment (2-1's passes take seconds).
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    job = GetJob(*stub, job.id());
    ASSERT_EQ(kill(two.pid(), SIGKILL), 0);
    two.Stop();
    ASSERT_EQ(job.state(), v1::JOB_STATE_RUNNING) << "finished before it could be killed";
    ASSERT_GE(job.rows(), 2);
    ASSERT_LT(job.rows(), 6);
    // Rows are stored a mode at a time, in order: never bf16's before fp16's.
    EXPECT_EQ(job.rows() % 2, 0);
    std::filesystem::copy(two.data_dir(), data_dir, std::filesystem::copy_options::recursive);
  }
  auto two = ServerProcess::StartOnDataDir(data_dir, flags);
  auto stub = v1::Layerscope::NewStub(two->NewChannel());
  const std::vector<v1::CompareEvent> resumed = WatchToTheEnd(*stub, job.id());
  job = GetJob(*stub, job.id());
  EXPECT_EQ(job.state(), v1::JOB_STATE_SUCCEEDED);
  EXPECT_EQ(job.resume(), v1::JOB_RESUME_RESUMED);
  EXPECT_EQ(job.rows(), 6);
  EXPECT_EQ(job.progress().steps_done(), job.progress().steps_total());
  EXPECT_EQ(job.progress().steps_total(), 8 * 4);
  EXPECT_EQ(RowsOf(resumed), want);
}

}  // namespace
}  // namespace layerscope::server
