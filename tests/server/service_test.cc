// The RPCs of the real layerscoped, started on an ephemeral loopback port (tests/support).
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <regex>
#include <thread>

#include "core/capture/capture_point.h"
#include "core/modes/mode_spec.h"
#include "layerscope/v1/layerscope.grpc.pb.h"
#include "tests/server/compare_call.h"
#include "tests/server/test_dir.h"
#include "tests/server/validation_cases.h"
#include "tests/support/server_process.h"

namespace layerscope::server {
namespace {

using testing::BaseRequest;
using testing::CompareOutcome;
using testing::LongRequest;
using testing::RunCompare;

// Small calibration: quantized modes exist but loading stays quick.
std::vector<std::string> ServerFlags(std::vector<std::string> extra = {}) {
  std::vector<std::string> flags = testing::CaseLimitFlags();
  for (const char* flag : {"--calibration-samples", "1", "--calibration-seq-len", "64"}) flags.push_back(flag);
  flags.insert(flags.end(), extra.begin(), extra.end());
  return flags;
}

std::vector<const v1::MetricsRow*> Rows(const CompareOutcome& outcome) {
  std::vector<const v1::MetricsRow*> rows;
  for (const auto& event : outcome.events) {
    if (event.has_row()) rows.push_back(&event.row());
  }
  return rows;
}

// Polls `server`'s log until it holds a match of `pattern` (up to 20 s); returns the first match.
std::string AwaitLog(const ServerProcess& server, const std::string& pattern) {
  const std::regex re(pattern);
  std::smatch match;
  for (int i = 0; i < 1000; ++i) {
    const std::string log = server.Stderr();
    if (std::regex_search(log, match, re)) return match.str();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ADD_FAILURE() << "no log line matches " << pattern << "; log:\n" << server.Stderr();
  return "";
}

// Asks the server's reflection service to list its services; returns the raw response bytes (the service names
// appear in them as strings). Encoded by hand: Debian installs no reflection .proto for clients.
std::string ListServicesByReflection(const std::shared_ptr<grpc::Channel>& channel) {
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::CompletionQueue queue;
  auto call = stub.PrepareCall(&context, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", &queue);
  // ServerReflectionRequest{list_services = "*"}: field 7, length-delimited.
  const std::string request = std::string("\x3a\x01*", 3);
  grpc::Slice slice(request);
  grpc::ByteBuffer request_buffer(&slice, 1), response_buffer;
  grpc::Status status;
  void* tag = nullptr;
  bool ok = false;
  auto step = [&](intptr_t id) {
    EXPECT_TRUE(queue.Next(&tag, &ok));
    EXPECT_EQ(reinterpret_cast<intptr_t>(tag), id);
    return ok;
  };
  call->StartCall(reinterpret_cast<void*>(1));
  step(1);
  call->Write(request_buffer, reinterpret_cast<void*>(2));
  step(2);
  call->Read(&response_buffer, reinterpret_cast<void*>(3));
  const bool read = step(3);
  call->WritesDone(reinterpret_cast<void*>(4));
  step(4);
  call->Finish(&status, reinterpret_cast<void*>(5));
  step(5);
  EXPECT_TRUE(status.ok()) << status.error_message();
  std::string bytes;
  std::vector<grpc::Slice> slices;
  if (read && response_buffer.Dump(&slices).ok()) {
    for (const auto& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  return bytes;
}

class ServiceTest : public ::testing::Test {
 protected:
  explicit ServiceTest(std::vector<std::string> extra_flags = {})
      : server_(ServerFlags(std::move(extra_flags))), stub_(v1::Layerscope::NewStub(server_.NewChannel())) {}

  ServerProcess server_;
  std::unique_ptr<v1::Layerscope::Stub> stub_;
};

TEST_F(ServiceTest, PrintsTheBoundPort) {
  EXPECT_TRUE(std::regex_match(server_.address(), std::regex(R"(127\.0\.0\.1:[1-9][0-9]*)")));
}

TEST_F(ServiceTest, OffersReflectionOfItsServices) {
  const std::string services = ListServicesByReflection(server_.NewChannel());
  EXPECT_NE(services.find("layerscope.v1.Layerscope"), std::string::npos);
  EXPECT_NE(services.find("grpc.health.v1.Health"), std::string::npos);
}

TEST_F(ServiceTest, ListsTheResidentModel) {
  grpc::ClientContext context;
  v1::ListModelsResponse response;
  ASSERT_TRUE(stub_->ListModels(&context, {}, &response).ok());
  ASSERT_EQ(response.models_size(), 1);
  const v1::ModelInfo& model = response.models(0);
  EXPECT_EQ(model.name(), "embedded");
  EXPECT_TRUE(model.is_default());
  EXPECT_EQ(model.layout(), "transformers");
  EXPECT_EQ(model.weights(), "model.safetensors");
  EXPECT_EQ(model.device(), "cpu");
  EXPECT_EQ(model.d_model(), 192);
  EXPECT_EQ(model.n_layer(), 6);
  EXPECT_EQ(model.vocab_size(), 256);
  EXPECT_EQ(model.d_inner(), 384);
  EXPECT_EQ(model.d_state(), 16);
  EXPECT_EQ(model.d_conv(), 4);
  EXPECT_EQ(model.dt_rank(), 12);
  EXPECT_GT(model.parameters(), 0);
  EXPECT_TRUE(model.float_available());
  EXPECT_TRUE(model.quantized_available());
  EXPECT_NE(model.quantization().find("calibrated on 1 x 64"), std::string::npos) << model.quantization();
}

TEST_F(ServiceTest, ListsModesAndTheSpecSyntax) {
  grpc::ClientContext context;
  v1::ListModesResponse response;
  ASSERT_TRUE(stub_->ListModes(&context, {}, &response).ok());
  ASSERT_EQ(response.modes_size(), static_cast<int>(BuiltinModes().size()));
  for (int i = 0; i < response.modes_size(); ++i) {
    const ModeSpec& expected = BuiltinModes()[i];
    const v1::ModeInfo& mode = response.modes(i);
    EXPECT_EQ(mode.name(), expected.name);
    EXPECT_EQ(mode.description(), expected.description);
    EXPECT_EQ(mode.quantized(), expected.weights == WeightSet::kQuantized);
    EXPECT_EQ(std::vector<std::string>(mode.quantized_stages().begin(), mode.quantized_stages().end()),
              expected.QuantizedStages());
    EXPECT_EQ(mode.precision(), expected.weights == WeightSet::kFloat ? FloatPrecisionName(expected.precision) : "");
  }
  EXPECT_EQ(response.modes(0).name(), "fp32");
  EXPECT_EQ(response.spec_syntax(), ModeSpecSyntax());
}

TEST_F(ServiceTest, ListsCapturePoints) {
  grpc::ClientContext context;
  v1::ListCapturePointsResponse response;
  ASSERT_TRUE(stub_->ListCapturePoints(&context, {}, &response).ok());
  ASSERT_EQ(response.points_size(), static_cast<int>(AllCapturePoints().size()));
  std::vector<std::string> defaults;
  for (const auto& point : response.points()) {
    EXPECT_FALSE(point.description().empty()) << point.name();
    if (point.is_default()) defaults.push_back(point.name());
  }
  EXPECT_EQ(defaults, (std::vector<std::string>{"mixer_input", "conv1d_input", "conv1d_output", "ssm_input",
                                                "ssm_output", "mixer_output"}));
}

TEST_F(ServiceTest, CompareStreamsProgressThenRowsInOrderThenASummary) {
  v1::CompareRequest request = BaseRequest();
  request.add_modes("bf16");
  const CompareOutcome outcome = RunCompare(*stub_, request);
  ASSERT_TRUE(outcome.status.ok()) << outcome.status.error_message();
  ASSERT_FALSE(outcome.events.empty());

  // Progress counts every forward pass, the reference's first; a mode's rows follow its last pass.
  const std::vector<std::string> stages{"fp32 batch 1/1", "fp16 batch 1/1", "bf16 batch 1/1"};
  std::vector<std::string> seen_stages;
  std::vector<std::string> row_keys;
  for (size_t i = 0; i + 1 < outcome.events.size(); ++i) {
    const auto& event = outcome.events[i];
    ASSERT_FALSE(event.has_summary()) << "summary before the end";
    if (event.has_progress()) {
      // A caller that has to wait (for the model to load or for a free slot) is told so with steps_done 0 first.
      if (event.progress().steps_done() == 0 && seen_stages.empty()) continue;
      EXPECT_EQ(event.progress().steps_done(), static_cast<int64_t>(seen_stages.size()) + 1);
      EXPECT_EQ(event.progress().steps_total(), 3);
      seen_stages.push_back(event.progress().stage());
    } else {
      ASSERT_TRUE(event.has_row());
      EXPECT_EQ(event.row().mode(), seen_stages.back().substr(0, 4)) << "a row before its mode's last pass";
      row_keys.push_back(event.row().mode() + " " + std::to_string(event.row().layer()) + " " + event.row().point());
    }
  }
  EXPECT_EQ(seen_stages, stages);
  std::vector<std::string> expected_keys;
  for (const char* mode : {"fp16", "bf16"}) {
    for (int layer : {0, 5}) {
      for (CapturePoint point : DefaultCapturePoints()) {
        expected_keys.push_back(std::string(mode) + " " + std::to_string(layer) + " " + CapturePointName(point));
      }
    }
  }
  EXPECT_EQ(row_keys, expected_keys);

  ASSERT_TRUE(outcome.events.back().has_summary());
  const v1::CompareSummary& summary = outcome.events.back().summary();
  EXPECT_EQ(summary.model(), "embedded");
  EXPECT_EQ(summary.reference_mode(), "fp32");
  EXPECT_EQ(std::vector<std::string>(summary.modes().begin(), summary.modes().end()),
            (std::vector<std::string>{"fp16", "bf16"}));
  EXPECT_EQ(std::vector<int>(summary.layers().begin(), summary.layers().end()), (std::vector<int>{0, 5}));
  EXPECT_EQ(summary.points_size(), 6);
  EXPECT_EQ(summary.samples(), 2);
  EXPECT_EQ(summary.seq_len(), 64);
  EXPECT_EQ(summary.batch_size(), 2);
  EXPECT_EQ(summary.device(), "cpu");
  EXPECT_GT(summary.server_seconds(), 0);
  EXPECT_EQ(summary.rows(), 24);
  // Where the time went: the core's stages in the order they first ran, within the server's time.
  std::vector<std::string> timed_stages;
  double staged = 0;
  for (const v1::StageTime& t : summary.stages()) timed_stages.push_back(t.stage()), staged += t.seconds();
  EXPECT_EQ(timed_stages, (std::vector<std::string>{"copies", "forward fp32", "reporting", "forward fp16", "metrics",
                                                    "forward bf16"}));
  EXPECT_GT(staged, 0);
  EXPECT_LE(staged, summary.server_seconds());

  for (const v1::MetricsRow* row : Rows(outcome)) {
    const v1::Metrics& m = row->metrics();
    SCOPED_TRACE(row->mode() + " layer " + std::to_string(row->layer()) + " " + row->point());
    const int channels = row->point() == "mixer_input" || row->point() == "mixer_output" ? 192 : 384;
    EXPECT_EQ(m.count(), 2 * 64 * channels);
    EXPECT_EQ(m.nonfinite_ref() + m.nonfinite_mode(), 0);
    // Half precision is close to fp32 but not equal to it.
    EXPECT_GT(m.mse(), 0);
    EXPECT_LT(m.mse(), row->mode() == "fp16" ? 1e-4 : 1e-2);
    ASSERT_TRUE(m.has_correlation());
    EXPECT_GT(m.correlation(), 0.99);
    EXPECT_TRUE(m.percentiles_exact());
  }
}

TEST_F(ServiceTest, EveryListedModeRuns) {
  grpc::ClientContext context;
  v1::ListModesResponse modes;
  ASSERT_TRUE(stub_->ListModes(&context, {}, &modes).ok());
  v1::CompareRequest request;
  for (const auto& mode : modes.modes()) {
    if (mode.name() != "fp32") request.add_modes(mode.name());
  }
  request.add_layers(-1);
  request.add_points("mixer_output");
  request.set_samples(1);
  request.set_seq_len(32);
  const CompareOutcome outcome = RunCompare(*stub_, request);
  ASSERT_TRUE(outcome.status.ok()) << outcome.status.error_message();
  const auto rows = Rows(outcome);
  ASSERT_EQ(static_cast<int>(rows.size()), request.modes_size());
  for (int i = 0; i < request.modes_size(); ++i) {
    EXPECT_EQ(rows[i]->mode(), request.modes(i));
    EXPECT_EQ(rows[i]->metrics().count(), 32 * 192);
  }
}

TEST_F(ServiceTest, TheSameRequestGivesBitIdenticalMetrics) {
  v1::CompareRequest request = BaseRequest();
  request.add_modes("bf16");
  const CompareOutcome first = RunCompare(*stub_, request);
  const CompareOutcome second = RunCompare(*stub_, request);
  ASSERT_TRUE(first.status.ok() && second.status.ok());
  const auto a = Rows(first), b = Rows(second);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i]->SerializeAsString(), b[i]->SerializeAsString()) << i;
}

TEST_F(ServiceTest, AComposedModeRunsLikeItsBase) {
  v1::CompareRequest request = BaseRequest();
  auto* mode = request.add_custom_modes();
  mode->set_name("half");
  mode->set_spec("base=fp16");
  request.add_modes("half");
  const CompareOutcome outcome = RunCompare(*stub_, request);
  ASSERT_TRUE(outcome.status.ok()) << outcome.status.error_message();
  const auto rows = Rows(outcome);
  ASSERT_EQ(rows.size(), 24u);
  for (size_t i = 0; i < 12; ++i) {
    EXPECT_EQ(rows[i]->mode(), "fp16");
    EXPECT_EQ(rows[i + 12]->mode(), "half");
    EXPECT_EQ(rows[i]->metrics().SerializeAsString(), rows[i + 12]->metrics().SerializeAsString());
  }
}

TEST_F(ServiceTest, DataSourcesGiveTheirOwnSamples) {
  // The first 128 bytes of the embedded text sent as text and as tokens are the embedded data itself.
  v1::CompareRequest embedded = BaseRequest();
  v1::CompareRequest text = BaseRequest();
  v1::CompareRequest tokens = BaseRequest();
  v1::CompareRequest file = BaseRequest();
  const std::string eval = [] {
    std::ifstream in(std::string(LAYERSCOPE_SOURCE_DIR) + "/core/model/embedded/eval.txt", std::ios::binary);
    std::string bytes(128, '\0');
    in.read(bytes.data(), 128);
    return bytes;
  }();
  text.mutable_data()->set_text(eval);
  for (int s = 0; s < 2; ++s) {
    auto* sequence = tokens.mutable_data()->mutable_tokens()->add_samples();
    for (int t = 0; t < 64; ++t) sequence->add_ids(static_cast<unsigned char>(eval[s * 64 + t]));
  }
  std::ofstream(server_.data_dir() + "/inputs/eval-copy.txt") << eval;
  file.mutable_data()->set_file("eval-copy.txt");
  std::vector<std::string> metrics;
  for (const auto* request : {&embedded, &text, &tokens, &file}) {
    const CompareOutcome outcome = RunCompare(*stub_, *request);
    ASSERT_TRUE(outcome.status.ok()) << outcome.status.error_message();
    metrics.push_back(Rows(outcome).front()->SerializeAsString());
  }
  for (size_t i = 1; i < metrics.size(); ++i) EXPECT_EQ(metrics[i], metrics[0]) << i;
  // Other text gives other numbers.
  text.mutable_data()->set_text(std::string(128, 'z'));
  const CompareOutcome other = RunCompare(*stub_, text);
  ASSERT_TRUE(other.status.ok());
  EXPECT_NE(Rows(other).front()->SerializeAsString(), metrics[0]);
}

TEST_F(ServiceTest, EveryValidationErrorOverTheWire) {
  testing::TestDir outside;
  testing::PopulateDataRoot(server_.data_dir() + "/inputs", outside.path());
  for (const testing::ValidationCase& c : testing::ValidationCases()) {
    SCOPED_TRACE(c.name);
    v1::CompareRequest request = BaseRequest();
    c.change(&request);
    const CompareOutcome outcome = RunCompare(*stub_, request);
    EXPECT_TRUE(outcome.events.empty());
    EXPECT_EQ(outcome.status.error_code(), c.code);
    EXPECT_EQ(outcome.status.error_message(), c.message);
  }
  // Each refusal is logged with its code.
  AwaitLog(server_, "Compare from [^ ]+: NOT_FOUND \"model: unknown model");
}

TEST_F(ServiceTest, AClientThatDisconnectsStopsItsComparison) {
  const CompareOutcome cancelled = RunCompare(*stub_, LongRequest(), [](const auto& event, auto* context) {
    if (event.has_progress() && event.progress().steps_done() == 2) context->TryCancel();
  });
  EXPECT_EQ(cancelled.status.error_code(), grpc::StatusCode::CANCELLED);
  // The server stopped within a few of the 192 steps (it checks between forward passes) ...
  const std::string line = AwaitLog(server_, "Compare from [^ ]+: CANCELLED .* steps=[0-9]+/192");
  const std::smatch steps = [&] {
    std::smatch m;
    std::regex_search(line, m, std::regex("steps=([0-9]+)/192"));
    return m;
  }();
  ASSERT_EQ(steps.size(), 2u);
  EXPECT_LT(std::stoi(steps[1]), 100) << line;
  // ... and freed its slot: the next comparison runs.
  const CompareOutcome next = RunCompare(*stub_, BaseRequest());
  EXPECT_TRUE(next.status.ok()) << next.status.error_message();
}

class UnquantizedServiceTest : public ServiceTest {
 protected:
  UnquantizedServiceTest() : ServiceTest({"--no-quantize"}) {}
};

TEST_F(UnquantizedServiceTest, W8A8ModesAreRefusedBeforeAnyWork) {
  grpc::ClientContext context;
  v1::ListModesResponse modes;
  ASSERT_TRUE(stub_->ListModes(&context, {}, &modes).ok());
  const auto quantized = std::find_if(modes.modes().begin(), modes.modes().end(),
                                      [](const v1::ModeInfo& mode) { return mode.quantized(); });
  ASSERT_NE(quantized, modes.modes().end()) << "no W8A8 mode listed";
  v1::CompareRequest request = BaseRequest();
  request.add_modes(quantized->name());
  const CompareOutcome outcome = RunCompare(*stub_, request);
  EXPECT_TRUE(outcome.events.empty());
  EXPECT_EQ(outcome.status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(outcome.status.error_message(),
            "modes[1]: mode \"" + quantized->name() +
                "\" runs the W8A8 model, which model \"embedded\" does not have (not quantized: the load options "
                "said not to)");
}

class QueueTest : public ServiceTest {
 protected:
  QueueTest() : ServiceTest({"--max-concurrent", "1", "--max-queued", "1"}) {}
};

TEST_F(QueueTest, CallersWaitInLineAndTheLineIsBounded) {
  // The first comparison runs until told to stop; its own reading thread cancels it, so that its context outlives
  // the cancellation.
  std::atomic<bool> first_running{false}, stop_first{false};
  std::thread first([&] {
    RunCompare(*stub_, LongRequest(), [&](const auto& event, auto* context) {
      first_running = true;
      if (stop_first) context->TryCancel();
    });
  });
  while (!first_running) std::this_thread::sleep_for(std::chrono::milliseconds(10));

  // The second caller is told it waits, then gets its comparison once the first ends.
  std::atomic<bool> waiting{false};
  CompareOutcome second;
  std::thread second_thread(
      [&] { second = RunCompare(*stub_, BaseRequest(), [&](const auto& event, auto*) { waiting = true; }); });
  while (!waiting) std::this_thread::sleep_for(std::chrono::milliseconds(10));

  // A third finds the line full.
  const CompareOutcome third = RunCompare(*stub_, BaseRequest());
  EXPECT_EQ(third.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(third.status.error_message(),
            "the server is busy: 2 comparison(s), save(s) and analyses running or waiting, this server's limits "
            "max-concurrent = 1 per device on 1 device(s) and max-queued = 1; try again later");

  stop_first = true;
  first.join();
  second_thread.join();
  ASSERT_TRUE(second.status.ok()) << second.status.error_message();
  ASSERT_TRUE(second.events.front().has_progress());
  EXPECT_EQ(second.events.front().progress().stage(), "waiting for 1 comparison(s) ahead");
  EXPECT_EQ(second.events.front().progress().steps_done(), 0);
  EXPECT_EQ(second.events.front().progress().steps_total(), 2);
  EXPECT_TRUE(second.events.back().has_summary());
}

}  // namespace
}  // namespace layerscope::server
