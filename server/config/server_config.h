// ServerConfig: how layerscoped is started, from its command line and an optional JSON file (--config) whose keys are
// the long flag names; a flag given on the command line overrides the file.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/compare/comparison.h"

namespace CLI {
class App;
}  // namespace CLI

namespace layerscope::server {

// Bounds on one comparison's size, so that one request cannot take the server's memory or hours of its time.
// A request over a size limit answers INVALID_ARGUMENT naming the limit (it has to change to be served); a full
// waiting line answers RESOURCE_EXHAUSTED (retrying later may succeed).
struct ServerLimits {
  int max_samples = 10000;
  int max_seq_len = 65536;
  int64_t max_tokens = 8388608;  // samples x seq_len
  // Comparisons that run at once on each device (a comparison spread over several devices takes one on each);
  // later ones wait in a queue. One by default: a comparison already uses every core (CPU) or saturates the GPU,
  // and each running one holds up to compare_memory (its reference captures and percentile populations).
  int max_concurrent = 1;
  // Comparisons that may wait for a slot; one more is refused with RESOURCE_EXHAUSTED (0: never wait).
  int max_queued = 8;
  // Jobs one user may have queued or running at once (Compare counts too); one more is refused.
  int max_jobs_per_user = 8;
  // Largest request message (inline token ids and text travel in the request).
  int max_request_bytes = 64 << 20;
  // Most bytes a dataset file (data.file or data.upload) may hold once decompressed: a 64 MiB gzip'd upload could
  // otherwise inflate to 64 GiB in one document.
  int64_t max_dataset_bytes = int64_t{1} << 30;
};

// How the W8A8 model is built at load (../shared/docs/MODES.md §2.2); the quantized modes run it.
struct QuantizationConfig {
  bool enabled = true;
  int calibration_samples = 10;
  int calibration_seq_len = 512;
  double percentile_alpha = 0.9995;
  std::string weight_arithmetic = "fp16";  // "fp16" as the recipe did, or "fp32"
  std::string calibration_text;            // empty: the embedded model's calib.txt
  // A dataset (any format core/data/document_reader.h reads) to calibrate on with the model's tokenizer; empty:
  // calibration_text for byte-level models, no W8A8 model for others.
  std::string calibration_data;
  std::string calibration_layout = "auto";  // "auto", "documents" or "packed" (core/data/dataset.h)
};

struct ServerConfig {
  std::string model_dir;       // empty: the embedded model
  std::string device = "cpu";  // or "cuda" (every visible GPU), or a list: "cuda:0,cuda:1"
  std::string listen = "127.0.0.1:50051";
  std::string data_dir = "./layerscope-data";
  // Where CompareRequest.data.file names files (read-only to the server). Empty: <data_dir>/inputs, created at
  // start.
  std::string data_root;
  std::string log_level = "info";
  // Bearer tokens as "user:role:sha256hex" (server/auth/token_store.h); `layerscope-hash-token` makes them. None:
  // every caller is "anonymous", which is allowed on a loopback --listen only, unless insecure_open.
  std::vector<std::string> tokens;
  bool insecure_open = false;
  // TLS: a PEM certificate chain and its key (both or neither); with a client CA, callers must present a
  // certificate it signed.
  std::string tls_cert;
  std::string tls_key;
  std::string tls_client_ca;
  // HOST:PORT of the Prometheus text endpoint (GET /metrics); empty: none.
  std::string metrics_listen;
  ServerLimits limits;
  // What one comparison may hold in device and host memory; past it the reference is recomputed and percentiles
  // become histogram estimates (core/compare/comparison.h). In GiB on the command line.
  CompareMemoryBudget compare_memory;
  QuantizationConfig quantization;
  // The model's HF tokenizer.json when the model's folder holds none (byte-level vocabularies need none).
  std::string tokenizer;
};

// Declares every flag of `config` on `app` (and --config FILE, read as JSON). After app.parse(), `config` holds the
// values; a bad flag, key or value makes parse() throw a CLI::ParseError naming it.
void AddServerOptions(CLI::App& app, ServerConfig* config);

// The effective configuration as one JSON object, for the startup log; it reads back as a --config file.
std::string ConfigToJson(const ServerConfig& config);

}  // namespace layerscope::server
