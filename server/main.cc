// layerscoped: binds its port first and reports health NOT_SERVING while a background thread loads the model,
// SERVING once it is resident; the job scheduler starts once the model is there. SIGTERM or SIGINT stops it cleanly
// with exit code 0: the gRPC server first (Compare calls are cancelled, watchers told UNAVAILABLE), then the
// scheduler (running jobs go back to the queue with their checkpoints). A model or job store that cannot be opened
// ends it with code 1 and the reason; bad flags with code 2.
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <signal.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/compare/resident_model.h"
#include "core/util/error.h"
#include "core/util/log.h"
#include "server/auth/token_store.h"
#include "server/config/server_config.h"
#include "server/jobs/device_slots.h"
#include "server/jobs/job_scheduler.h"
#include "server/jobs/job_store.h"
#include "server/metrics/device_memory_metrics.h"
#include "server/metrics/metrics_endpoint.h"
#include "server/metrics/rpc_metrics.h"
#include "server/service/analysis_service.h"
#include "server/service/authenticator.h"
#include "server/service/capture_service.h"
#include "server/service/compare_job_runner.h"
#include "server/service/layerscope_service.h"
#include "server/service/model_entry.h"
#include "server/service/model_registry.h"
#include "server/service/model_slots.h"

namespace layerscope::server {
namespace {

constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;
// How long clients get to close their connections after the shutdown began; then gRPC cuts them. Running
// comparisons do not need it: BeginShutdown() stops them at their next check.
constexpr auto kShutdownGrace = std::chrono::seconds(1);
// Raised by the loader when loading failed; main waits for it along with the shutdown signals.
constexpr int kLoadFailedSignal = SIGUSR1;

void SetUpLogging(const std::string& level) {
  // Logs go to stderr; stdout carries only the "listening on" line that scripts parse.
  auto logger = spdlog::stderr_logger_mt("layerscoped");
  logger->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%l%$ [%t] %v");
  logger->set_level(spdlog::level::from_str(level));
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(logger);
  SetLogSink([](LogLevel level, const std::string& message) {
    switch (level) {
      case LogLevel::kDebug: spdlog::debug("core: {}", message); break;
      case LogLevel::kInfo: spdlog::info("core: {}", message); break;
      case LogLevel::kWarn: spdlog::warn("core: {}", message); break;
      case LogLevel::kError: spdlog::error("core: {}", message); break;
    }
  });
}

// Prepares the folders; returns the data root, or an empty string (after saying why) when one cannot be made.
std::string PrepareFolders(const ServerConfig& config) {
  std::error_code ec;
  std::filesystem::create_directories(config.data_dir, ec);
  if (ec) {
    std::cerr << "layerscoped: --data-dir " << config.data_dir << ": cannot create it: " << ec.message() << "\n";
    return "";
  }
  if (!config.data_root.empty()) return config.data_root;
  const std::string root = (std::filesystem::path(config.data_dir) / "inputs").string();
  std::filesystem::create_directories(root, ec);
  if (ec) {
    std::cerr << "layerscoped: cannot create the data root " << root << ": " << ec.message() << "\n";
    return "";
  }
  return root;
}

// How the model is loaded, for the result cache's model digest: a change of these changes every result.
std::string LoadSettings(const ServerConfig& config) {
  const QuantizationConfig& q = config.quantization;
  return "quantize=" + std::to_string(q.enabled) + " samples=" + std::to_string(q.calibration_samples) +
         " seq_len=" + std::to_string(q.calibration_seq_len) + " alpha=" + std::to_string(q.percentile_alpha) +
         " weight_arithmetic=" + q.weight_arithmetic + " calibration_text=" + q.calibration_text +
         " calibration_data=" + q.calibration_data + " calibration_layout=" + q.calibration_layout +
         " tokenizer=" + config.tokenizer +
         // The memory budget decides which percentiles are exact and which are histogram estimates.
         " compare_device_bytes=" + std::to_string(config.compare_memory.device_bytes) +
         " compare_host_bytes=" + std::to_string(config.compare_memory.host_bytes);
}

bool IsLoopback(const std::string& listen) {
  const std::string host = listen.substr(0, listen.rfind(':'));
  return host == "localhost" || host == "[::1]" || host == "::1" || host.rfind("127.", 0) == 0;
}

// The authenticator from --token entries; null (after saying why) when one is malformed.
std::unique_ptr<Authenticator> MakeAuthenticator(const ServerConfig& config) {
  if (config.tokens.empty()) return std::make_unique<Authenticator>(nullptr);
  std::vector<auth::TokenEntry> entries;
  try {
    for (size_t i = 0; i < config.tokens.size(); ++i) {
      try {
        entries.push_back(auth::ParseTokenEntry(config.tokens[i]));
      } catch (const Error& error) {
        throw Error(error.kind(), "--token #" + std::to_string(i + 1) + ": " + error.what());
      }
    }
    return std::make_unique<Authenticator>(std::make_unique<auth::TokenStore>(entries));
  } catch (const Error& error) {
    std::cerr << "layerscoped: " << error.what() << "\n";
    return nullptr;
  }
}

// The file's contents, or nothing (after saying why) when it cannot be read.
std::optional<std::string> ReadPem(const std::string& flag, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream contents;
  contents << in.rdbuf();
  if (!in || contents.str().empty()) {
    std::cerr << "layerscoped: " << flag << " " << path << ": cannot read it\n";
    return std::nullopt;
  }
  return contents.str();
}

// Plaintext, or TLS when --tls-cert is given (requiring client certificates when --tls-client-ca is); null (after
// saying why) when a file cannot be read.
std::shared_ptr<grpc::ServerCredentials> MakeCredentials(const ServerConfig& config) {
  if (config.tls_cert.empty()) return grpc::InsecureServerCredentials();
  const std::optional<std::string> cert = ReadPem("--tls-cert", config.tls_cert);
  const std::optional<std::string> key = ReadPem("--tls-key", config.tls_key);
  if (!cert || !key) return nullptr;
  grpc::SslServerCredentialsOptions options;
  options.pem_key_cert_pairs.push_back({*key, *cert});
  if (!config.tls_client_ca.empty()) {
    const std::optional<std::string> ca = ReadPem("--tls-client-ca", config.tls_client_ca);
    if (!ca) return nullptr;
    options.pem_root_certs = *ca;
    options.client_certificate_request = GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  return grpc::SslServerCredentials(options);
}

void LogRecovery(const jobs::RecoveryReport& report) {
  for (const std::string& id : report.resumed) spdlog::info("job {}: was running at the last stop; resumes", id);
  for (const std::string& id : report.restarted) spdlog::info("job {}: was running at the last stop; restarts", id);
  for (const std::string& id : report.failed) {
    spdlog::warn("job {}: was running at too many stops; failed instead of requeued", id);
  }
}

int Run(int argc, char** argv) {
  // Signals are taken by sigwait() in this thread only: block them before any other thread can start (probing a
  // CUDA device may start some), so that every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, kLoadFailedSignal);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  ServerConfig config;
  CLI::App app("layerscoped: keeps a Mamba model resident and compares numeric modes layer by layer over gRPC");
  AddServerOptions(app, &config);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    const int code = app.exit(error);
    return code == 0 ? 0 : kExitUsage;
  }
  std::vector<std::string> devices;
  try {
    devices = ResidentModel::ExpandDevices(config.device);
  } catch (const Error& error) {
    std::cerr << "layerscoped: --device " << config.device << ": " << error.what() << "\n";
    return kExitUsage;
  }
  const std::unique_ptr<Authenticator> authenticator = MakeAuthenticator(config);
  if (authenticator == nullptr) return kExitUsage;
  if (authenticator->open() && !IsLoopback(config.listen) && !config.insecure_open) {
    std::cerr << "layerscoped: --listen " << config.listen
              << " is not a loopback address and no --token is configured: every caller on the network could run "
                 "and read jobs. Add --token entries (layerscope-hash-token makes them), or pass --insecure-open to "
                 "serve without authentication anyway\n";
    return kExitUsage;
  }
  const std::shared_ptr<grpc::ServerCredentials> credentials = MakeCredentials(config);
  if (credentials == nullptr) return kExitUsage;
  const std::string data_root = PrepareFolders(config);
  if (data_root.empty()) return kExitUsage;
  const std::string model_dir = config.model_dir.empty() ? ResidentModel::EmbeddedModelDir() : config.model_dir;

  SetUpLogging(config.log_level);
  spdlog::info("layerscoped starting with {}", ConfigToJson(config));

  spdlog::info("{} token(s) configured{}", config.tokens.size(),
               authenticator->open() ? ": open, every caller is \"anonymous\"" : "");

  const std::string jobs_path = (std::filesystem::path(config.data_dir) / "jobs.db").string();
  std::unique_ptr<jobs::JobStore> store;
  jobs::RecoveryReport recovery;
  try {
    store = jobs::JobStore::Open(jobs_path, {}, &recovery);
  } catch (const Error& error) {
    spdlog::error("cannot open the job store {}: {}", jobs_path, error.what());
    return kExitFailure;
  }
  LogRecovery(recovery);

  ModelRegistry models;
  // Every device runs at most max_concurrent pieces of work: comparison jobs' shares, saves and analyses.
  jobs::DeviceSlots device_slots(static_cast<int>(devices.size()), config.limits.max_concurrent);
  CompareJobRunner runner(config.limits, data_root, &models, &device_slots);
  // max_concurrent jobs per device: a job spreads its modes over every device with a free slot (device_slots bound
  // each device to max_concurrent shares), so N devices x max_concurrent workers keep every device busy, also with
  // jobs of one mode each.
  jobs::SchedulerOptions scheduler_options;
  scheduler_options.devices = static_cast<int>(devices.size());
  scheduler_options.workers_per_device = config.limits.max_concurrent;
  scheduler_options.max_jobs_per_user = config.limits.max_jobs_per_user;
  scheduler_options.log = [](const std::string& message) { spdlog::warn("jobs: {}", message); };
  jobs::JobScheduler scheduler(store.get(), &runner, scheduler_options);
  ModelSlots model_slots(config.limits, &device_slots, &scheduler);
  RpcMetrics rpc_metrics;
  LayerscopeService service(config.limits, data_root, &models, store.get(), &scheduler, &model_slots, &rpc_metrics,
                            authenticator.get(), LoadSettings(config));
  CaptureService captures(config.limits, data_root, &models, &model_slots, &rpc_metrics, authenticator.get());
  AnalysisService analysis(config.limits, data_root, &models, &model_slots, &rpc_metrics, authenticator.get());
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(config.listen, credentials, &port);
  builder.SetMaxReceiveMessageSize(config.limits.max_request_bytes);
  // Two servers must not share a port silently (gRPC sets SO_REUSEPORT by default).
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.RegisterService(&service);
  builder.RegisterService(&captures);
  builder.RegisterService(&analysis);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    spdlog::error("cannot listen on {}", config.listen);
    return kExitFailure;
  }
  grpc::HealthCheckServiceInterface* health = server->GetHealthCheckService();
  health->SetServingStatus(false);
  const std::string host = config.listen.substr(0, config.listen.rfind(':'));
  std::cout << "layerscoped listening on " << host << ":" << port << std::endl;
  std::unique_ptr<MetricsEndpoint> metrics;
  if (!config.metrics_listen.empty()) {
    try {
      metrics = std::make_unique<MetricsEndpoint>(
          config.metrics_listen, [&service] { return service.MetricsText() + RenderDeviceMemory(ReadDeviceMemory()); });
    } catch (const Error& error) {
      spdlog::error("cannot serve metrics: {}", error.what());
      server->Shutdown();
      return kExitFailure;
    }
    const std::string metrics_host = config.metrics_listen.substr(0, config.metrics_listen.rfind(':'));
    std::cout << "layerscoped metrics on " << metrics_host << ":" << metrics->port() << std::endl;
  }

  std::atomic<bool> load_done{false};
  std::string load_error;
  std::thread loader([&] {
    try {
      // Loaded (and calibrated) once, on the first device, then copied to the others: the same weights and
      // scales everywhere, so that every device gives the same rows, in a fraction of a load's time.
      spdlog::info("loading model from {} on {}", model_dir, devices.front());
      ServerConfig first_device = config;
      first_device.device = devices.front();
      ServedModel served = LoadServedModel(first_device, model_dir, /*is_default=*/true);
      std::vector<std::unique_ptr<ResidentModel>> replicas;
      replicas.push_back(std::move(served.model));
      for (size_t d = 1; d < devices.size(); ++d) replicas.push_back(replicas.front()->ReplicateTo(devices[d]));
      served.entry.info.device.clear();
      for (const auto& replica : replicas) {
        served.entry.info.device += (served.entry.info.device.empty() ? "" : ",") + replica->info().device;
      }
      models.Add(std::move(replicas), std::move(served.entry));
      // Before MarkReady: a submission that waited for the model finds the scheduler running.
      scheduler.Start();
      models.MarkReady();
      health->SetServingStatus(true);
      spdlog::info("serving model \"{}\"", models.entries().front().info.name);
    } catch (const std::exception& error) {
      load_error = error.what();
      load_done = true;
      kill(getpid(), kLoadFailedSignal);
      return;
    }
    load_done = true;
  });

  int exit_code = 0;
  for (;;) {
    int signal_number = 0;
    sigwait(&signals, &signal_number);
    if (signal_number == kLoadFailedSignal) {
      if (!load_done || load_error.empty()) continue;  // not ours
      spdlog::error("cannot load the model from {}: {}", model_dir, load_error);
      exit_code = kExitFailure;
    } else {
      spdlog::info("{} received: shutting down", strsignal(signal_number));
    }
    break;
  }
  service.BeginShutdown();
  captures.BeginShutdown();
  analysis.BeginShutdown();
  server->Shutdown(std::chrono::system_clock::now() + kShutdownGrace);
  if (!load_done) {
    // The load cannot be interrupted; nothing it holds needs more than the process's exit.
    spdlog::info("stopped while the model was loading");
    spdlog::shutdown();
    std::_Exit(exit_code);
  }
  loader.join();
  scheduler.Shutdown();
  spdlog::info("stopped");
  spdlog::shutdown();
  return exit_code;
}

}  // namespace
}  // namespace layerscope::server

int main(int argc, char** argv) { return layerscope::server::Run(argc, argv); }
