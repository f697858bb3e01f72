// Jobs over the wire: SubmitJob, WatchJob, GetJob, ListJobs and CancelJob of the real layerscoped (tests/support),
// with bearer tokens, the result cache and a restart after kill -9 on the same data directory.
#include <arpa/inet.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "layerscope/v1/analysis.grpc.pb.h"
#include "layerscope/v1/captures.grpc.pb.h"
#include "layerscope/v1/layerscope.grpc.pb.h"
#include "server/auth/token_store.h"
#include "tests/server/compare_call.h"
#include "tests/server/test_dir.h"
#include "tests/support/server_process.h"

namespace layerscope::server {
namespace {

using testing::LongRequest;
using testing::ResumableRequest;
using testing::RowsOf;
using testing::SmallRequest;

constexpr char kAliceToken[] = "ls_alice-token";
constexpr char kBobToken[] = "ls_bob-token";
constexpr char kRootToken[] = "ls_root-token";

std::vector<std::string> TokenFlags() {
  return {"--token", "alice:user:" + auth::Sha256Hex(kAliceToken), "--token", "bob:user:" + auth::Sha256Hex(kBobToken),
          "--token", "root:admin:" + auth::Sha256Hex(kRootToken)};
}

using Watched = testing::CompareOutcome;

class Client {
 public:
  Client(std::shared_ptr<grpc::Channel> channel, std::string token)
      : stub_(v1::Layerscope::NewStub(std::move(channel))), token_(std::move(token)) {}

  grpc::Status Submit(const v1::CompareRequest& request, v1::Job* job, bool no_cache = false) {
    grpc::ClientContext context;
    Prepare(&context);
    v1::SubmitJobRequest submit;
    *submit.mutable_request() = request;
    submit.set_no_cache(no_cache);
    return stub_->SubmitJob(&context, submit, job);
  }

  v1::Job SubmitOk(const v1::CompareRequest& request, bool no_cache = false) {
    v1::Job job;
    const grpc::Status status = Submit(request, &job, no_cache);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return job;
  }

  grpc::Status Get(const std::string& id, v1::Job* job) {
    grpc::ClientContext context;
    Prepare(&context);
    v1::GetJobRequest request;
    request.set_job_id(id);
    return stub_->GetJob(&context, request, job);
  }

  grpc::Status Cancel(const std::string& id, v1::Job* job) {
    grpc::ClientContext context;
    Prepare(&context);
    v1::CancelJobRequest request;
    request.set_job_id(id);
    return stub_->CancelJob(&context, request, job);
  }

  grpc::Status List(v1::ListJobsResponse* response) {
    grpc::ClientContext context;
    Prepare(&context);
    return stub_->ListJobs(&context, v1::ListJobsRequest(), response);
  }

  // Reads the job's stream; `stop_after` > 0 disconnects after that many events.
  Watched Watch(const std::string& id, size_t stop_after = 0) {
    grpc::ClientContext context;
    Prepare(&context);
    v1::WatchJobRequest request;
    request.set_job_id(id);
    auto reader = stub_->WatchJob(&context, request);
    Watched watched;
    v1::CompareEvent event;
    while (reader->Read(&event)) {
      watched.events.push_back(event);
      if (stop_after > 0 && watched.events.size() == stop_after) context.TryCancel();
    }
    watched.status = reader->Finish();
    return watched;
  }

  // Waits up to 60 s for the job to be in `state`.
  v1::Job AwaitState(const std::string& id, v1::JobState state) {
    v1::Job job;
    for (int i = 0; i < 600; ++i) {
      EXPECT_TRUE(Get(id, &job).ok());
      if (job.state() == state) return job;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ADD_FAILURE() << "job " << id << " is still " << v1::JobState_Name(job.state()) << ", not "
                  << v1::JobState_Name(state);
    return job;
  }

  v1::Layerscope::Stub& stub() { return *stub_; }

 private:
  void Prepare(grpc::ClientContext* context) const {
    context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
    if (!token_.empty()) context->AddMetadata("authorization", "Bearer " + token_);
  }

  std::unique_ptr<v1::Layerscope::Stub> stub_;
  std::string token_;
};

// A loopback port that was free a moment ago.
int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&address), length), 0);
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  close(fd);
  return ntohs(address.sin_port);
}

// Sends `request` to 127.0.0.1:`port` and returns everything the server answers until it closes.
std::string HttpExchange(int port, const std::string& request) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    close(fd);
    return "(cannot connect)";
  }
  EXPECT_EQ(send(fd, request.data(), request.size(), 0), static_cast<ssize_t>(request.size()));
  std::string response;
  char buffer[4096];
  for (ssize_t n; (n = recv(fd, buffer, sizeof(buffer), 0)) > 0;) response.append(buffer, static_cast<size_t>(n));
  close(fd);
  return response;
}

TEST(JobsServiceTest, SubmitWatchReattachAndCache) {
  ServerProcess server({"--no-quantize"});
  Client client(server.NewChannel(), "");
  const testing::CompareOutcome compared = testing::RunCompare(client.stub(), SmallRequest());
  ASSERT_TRUE(compared.status.ok()) << compared.status.error_message();
  ASSERT_EQ(RowsOf(compared.events).size(), 4u);

  // A job that really runs gives Compare's rows, then the summary.
  const v1::Job job = client.SubmitOk(SmallRequest(), /*no_cache=*/true);
  EXPECT_EQ(job.owner(), "anonymous");
  EXPECT_TRUE(job.cached_from().empty());
  const Watched watched = client.Watch(job.id());
  ASSERT_TRUE(watched.status.ok()) << watched.status.error_message();
  EXPECT_EQ(RowsOf(watched.events), RowsOf(compared.events));
  ASSERT_TRUE(watched.events.back().has_summary());
  EXPECT_EQ(watched.events.back().summary().rows(), 4);

  // A watcher that left after one event gets everything again from the start.
  const Watched left = client.Watch(job.id(), 1);
  EXPECT_EQ(left.status.error_code(), grpc::StatusCode::CANCELLED);
  const Watched again = client.Watch(job.id());
  ASSERT_TRUE(again.status.ok());
  EXPECT_EQ(RowsOf(again.events), RowsOf(watched.events));

  // The same request again is answered from the cache, with the same rows.
  const v1::Job cached = client.SubmitOk(SmallRequest());
  EXPECT_EQ(cached.state(), v1::JOB_STATE_SUCCEEDED);
  EXPECT_FALSE(cached.cached_from().empty());
  EXPECT_EQ(cached.rows(), 4);
  EXPECT_EQ(RowsOf(client.Watch(cached.id()).events), RowsOf(compared.events));
  // A different request is not.
  v1::CompareRequest other = SmallRequest();
  other.set_seq_len(33);
  EXPECT_TRUE(client.SubmitOk(other).cached_from().empty());
}

TEST(JobsServiceTest, TokensOwnersAndAdmin) {
  ServerProcess server([] {
    std::vector<std::string> flags = TokenFlags();
    flags.push_back("--no-quantize");
    return flags;
  }());
  Client nobody(server.NewChannel(), "");
  Client stranger(server.NewChannel(), "ls_not-a-token");
  Client alice(server.NewChannel(), kAliceToken);
  Client bob(server.NewChannel(), kBobToken);
  Client root(server.NewChannel(), kRootToken);

  v1::Job job;
  grpc::Status status = nobody.Submit(SmallRequest(), &job);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(status.error_message(), "missing credentials: send the header 'authorization: Bearer <token>'");
  status = stranger.Submit(SmallRequest(), &job);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(status.error_message(), "unknown or revoked token");
  EXPECT_EQ(testing::RunCompare(nobody.stub(), SmallRequest()).status.error_code(), grpc::StatusCode::UNAUTHENTICATED);

  const v1::Job alices = alice.SubmitOk(SmallRequest());
  EXPECT_EQ(alices.owner(), "alice");
  EXPECT_TRUE(alice.Watch(alices.id()).status.ok());

  // Bob cannot tell alice's job from one that does not exist.
  v1::Job seen;
  status = bob.Get(alices.id(), &seen);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(status.error_message(), "job_id: no job \"" + alices.id() + "\" of yours");
  EXPECT_EQ(bob.Cancel(alices.id(), &seen).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(bob.Watch(alices.id()).status.error_code(), grpc::StatusCode::NOT_FOUND);
  v1::ListJobsResponse list;
  ASSERT_TRUE(bob.List(&list).ok());
  EXPECT_EQ(list.jobs_size(), 0);

  // Bob's own job, answered from alice's cached result, is his.
  const v1::Job bobs = bob.SubmitOk(SmallRequest());
  EXPECT_EQ(bobs.cached_from(), alices.id());
  ASSERT_TRUE(alice.List(&list).ok());
  ASSERT_EQ(list.jobs_size(), 1);
  EXPECT_EQ(list.jobs(0).id(), alices.id());

  // The admin sees both.
  list.Clear();
  ASSERT_TRUE(root.List(&list).ok());
  ASSERT_EQ(list.jobs_size(), 2);
  EXPECT_EQ(list.jobs(0).owner(), "alice");
  EXPECT_EQ(list.jobs(1).owner(), "bob");
  EXPECT_TRUE(root.Get(alices.id(), &seen).ok());
  EXPECT_EQ(seen.state(), v1::JOB_STATE_SUCCEEDED);
}

TEST(JobsServiceTest, PerUserLimitAndCancelQueuedAndRunning) {
  ServerProcess server([] {
    std::vector<std::string> flags = TokenFlags();
    for (const char* flag : {"--no-quantize", "--max-concurrent", "1", "--max-jobs-per-user", "2"}) {
      flags.push_back(flag);
    }
    return flags;
  }());
  Client alice(server.NewChannel(), kAliceToken);
  Client bob(server.NewChannel(), kBobToken);

  const v1::Job running = alice.SubmitOk(LongRequest(), true);
  alice.AwaitState(running.id(), v1::JOB_STATE_RUNNING);
  const v1::Job queued = alice.SubmitOk(SmallRequest(), true);
  EXPECT_EQ(queued.state(), v1::JOB_STATE_QUEUED);
  v1::Job refused;
  const grpc::Status status = alice.Submit(SmallRequest(), &refused, true);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_NE(status.error_message().find("max_jobs_per_user = 2"), std::string::npos) << status.error_message();
  // Another user is not held by alice's limit.
  const v1::Job bobs = bob.SubmitOk(SmallRequest(), true);

  v1::Job after;
  ASSERT_TRUE(alice.Cancel(queued.id(), &after).ok());
  EXPECT_EQ(after.state(), v1::JOB_STATE_CANCELLED);
  EXPECT_EQ(alice.Watch(queued.id()).status.error_code(), grpc::StatusCode::CANCELLED);

  ASSERT_TRUE(alice.Cancel(running.id(), &after).ok());
  const v1::Job cancelled = alice.AwaitState(running.id(), v1::JOB_STATE_CANCELLED);
  EXPECT_LT(cancelled.progress().steps_done(), cancelled.progress().steps_total());
  // The worker is free again: bob's job runs.
  bob.AwaitState(bobs.id(), v1::JOB_STATE_SUCCEEDED);
}

TEST(JobsServiceTest, AJobThatFailsWhenItRunsEndsItsWatchWithTheFailure) {
  ServerProcess server({"--no-quantize", "--max-concurrent", "1"});
  Client client(server.NewChannel(), "");
  const std::string file = server.data_dir() + "/inputs/text.txt";
  std::ofstream(file) << std::string(200, 'a');
  const v1::Job running = client.SubmitOk(LongRequest());
  client.AwaitState(running.id(), v1::JOB_STATE_RUNNING);
  // Valid when submitted; its file is gone by the time a worker takes it.
  v1::CompareRequest request = SmallRequest();
  request.mutable_data()->set_file("text.txt");
  const v1::Job queued = client.SubmitOk(request);
  std::filesystem::remove(file);
  v1::Job job;
  ASSERT_TRUE(client.Cancel(running.id(), &job).ok());

  const Watched watched = client.Watch(queued.id());
  EXPECT_EQ(watched.status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_NE(watched.status.error_message().find("data.file"), std::string::npos) << watched.status.error_message();
  ASSERT_TRUE(client.Get(queued.id(), &job).ok());
  EXPECT_EQ(job.state(), v1::JOB_STATE_FAILED);
  EXPECT_EQ(job.error_code(), "NOT_FOUND");
  EXPECT_EQ(job.error(), watched.status.error_message());
}

TEST(JobsServiceTest, KilledServerRestartsWithFinishedJobsAndItsQueue) {
  testing::TestDir kept;
  const std::string data_dir = kept.Sub("data");
  v1::Job finished, interrupted, waiting;
  std::vector<std::string> finished_rows;
  {
    ServerProcess server({"--no-quantize", "--max-concurrent", "1"});
    Client client(server.NewChannel(), "");
    finished = client.SubmitOk(SmallRequest());
    finished_rows = RowsOf(client.Watch(finished.id()).events);
    ASSERT_EQ(finished_rows.size(), 4u);
    interrupted = client.SubmitOk(LongRequest());
    client.AwaitState(interrupted.id(), v1::JOB_STATE_RUNNING);
    v1::CompareRequest second = SmallRequest();
    second.set_seq_len(48);
    waiting = client.SubmitOk(second);
    EXPECT_EQ(waiting.state(), v1::JOB_STATE_QUEUED);
    ASSERT_EQ(kill(server.pid(), SIGKILL), 0);
    EXPECT_EQ(server.Stop(), -SIGKILL);
    std::filesystem::copy(server.data_dir(), data_dir, std::filesystem::copy_options::recursive);
  }
  auto server = ServerProcess::StartOnDataDir(data_dir, {"--no-quantize", "--max-concurrent", "1"});
  Client client(server->NewChannel(), "");
  v1::Job job;
  ASSERT_TRUE(client.Get(finished.id(), &job).ok());
  EXPECT_EQ(job.state(), v1::JOB_STATE_SUCCEEDED);
  EXPECT_EQ(RowsOf(client.Watch(finished.id()).events), finished_rows);

  ASSERT_TRUE(client.Get(interrupted.id(), &job).ok());
  EXPECT_EQ(job.interruptions(), 1);
  EXPECT_NE(job.resume(), v1::JOB_RESUME_NONE);
  ASSERT_TRUE(client.Cancel(interrupted.id(), &job).ok());

  const Watched rest = client.Watch(waiting.id());
  ASSERT_TRUE(rest.status.ok()) << rest.status.error_message();
  EXPECT_EQ(RowsOf(rest.events).size(), 4u);
}

TEST(JobsServiceTest, AJobKilledAfterItsFirstModeResumesWithTheRowsItWouldHaveHad) {
  // 8 one-sample passes each of fp32, fp16 and bf16: fp16's rows are stored after pass 16.
  const v1::CompareRequest request = ResumableRequest({"fp16", "bf16"});
  testing::TestDir kept;
  const std::string data_dir = kept.Sub("data");
  v1::Job job;
  {
    ServerProcess server({"--no-quantize"});
    Client client(server.NewChannel(), "");
    job = client.SubmitOk(request);
    // fp16's two rows are stored one after the other: wait for both, then kill well before bf16's 8 passes end.
    for (int i = 0; i < 600 && job.rows() < 2; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      ASSERT_TRUE(client.Get(job.id(), &job).ok());
    }
    ASSERT_EQ(kill(server.pid(), SIGKILL), 0);
    server.Stop();
    ASSERT_EQ(job.state(), v1::JOB_STATE_RUNNING) << "finished before it could be killed";
    ASSERT_EQ(job.rows(), 2);
    std::filesystem::copy(server.data_dir(), data_dir, std::filesystem::copy_options::recursive);
  }
  auto server = ServerProcess::StartOnDataDir(data_dir, {"--no-quantize"});
  Client client(server->NewChannel(), "");
  const Watched resumed = client.Watch(job.id());
  ASSERT_TRUE(resumed.status.ok()) << resumed.status.error_message();
  ASSERT_TRUE(client.Get(job.id(), &job).ok());
  EXPECT_EQ(job.resume(), v1::JOB_RESUME_RESUMED);
  EXPECT_EQ(job.rows(), 4);

  const Watched fresh = client.Watch(client.SubmitOk(request, /*no_cache=*/true).id());
  ASSERT_TRUE(fresh.status.ok()) << fresh.status.error_message();
  EXPECT_EQ(RowsOf(resumed.events), RowsOf(fresh.events));
}

TEST(JobsServiceTest, PrometheusMetricsOverHttp) {
  const int port = FreePort();
  ServerProcess server({"--no-quantize", "--metrics-listen", "127.0.0.1:" + std::to_string(port)});
  Client client(server.NewChannel(), "");
  const v1::Job job = client.SubmitOk(SmallRequest());
  ASSERT_TRUE(client.Watch(job.id()).status.ok());
  v1::Job missing;
  EXPECT_EQ(client.Get("0123", &missing).error_code(), grpc::StatusCode::NOT_FOUND);
  // The Captures and Analysis services count in the same metrics.
  {
    grpc::ClientContext context;
    v1::SaveRequest request;
    request.add_modes("fp16");
    request.set_samples(1);
    request.set_seq_len(8);
    v1::SavePlan plan;
    EXPECT_TRUE(v1::Captures::NewStub(server.NewChannel())->Plan(&context, request, &plan).ok());
  }
  {
    grpc::ClientContext context;
    v1::BreakdownRequest request;
    *request.mutable_comparison() = SmallRequest();
    request.set_top_k(-1);
    v1::BreakdownResponse response;
    EXPECT_EQ(v1::Analysis::NewStub(server.NewChannel())->Breakdown(&context, request, &response).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
  }

  const std::string response = HttpExchange(port, "GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n");
  EXPECT_EQ(response.rfind("HTTP/1.0 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n", 0), 0u)
      << response;
  for (const std::string& line :
       {"\nlayerscope_jobs{state=\"succeeded\"} 1\n", "\nlayerscope_jobs{state=\"queued\"} 0\n",
        "\nlayerscope_queue_length 0\n", "\nlayerscope_model_ready 1\n",
        "\nlayerscope_rpc_total{method=\"SubmitJob\",code=\"OK\"} 1\n",
        "\nlayerscope_rpc_total{method=\"GetJob\",code=\"NOT_FOUND\"} 1\n",
        "\nlayerscope_rpc_duration_seconds_count{method=\"WatchJob\"} 1\n",
        "\nlayerscope_rpc_duration_seconds_bucket{method=\"WatchJob\",le=\"+Inf\"} 1\n",
        "\nlayerscope_rpc_total{method=\"Plan\",code=\"OK\"} 1\n",
        "\nlayerscope_rpc_total{method=\"Breakdown\",code=\"INVALID_ARGUMENT\"} 1\n"}) {
    EXPECT_NE(response.find(line), std::string::npos) << line << " in\n" << response;
  }
  EXPECT_NE(response.find("\nlayerscope_resident_memory_bytes "), std::string::npos);
  EXPECT_EQ(HttpExchange(port, "GET / HTTP/1.0\r\n\r\n").rfind("HTTP/1.0 404 Not Found\r\n", 0), 0u);
  EXPECT_EQ(HttpExchange(port, "POST /metrics HTTP/1.0\r\n\r\n").rfind("HTTP/1.0 405 Method Not Allowed\r\n", 0), 0u);
}

}  // namespace
}  // namespace layerscope::server
