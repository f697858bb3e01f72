#include "server/config/server_config.h"

#include <CLI/CLI.hpp>
#include <cmath>
#include <istream>
#include <memory>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

namespace layerscope::server {
namespace {

constexpr double kBytesPerGib = 1 << 30;

std::string GibText(int64_t bytes) {
  std::ostringstream text;
  text << bytes / kBytesPerGib;
  return text.str();
}

// CLI11 reads TOML/INI config files; this reads a flat JSON object instead. Each key is a long flag name and each
// value a string, number or boolean (arrays give several values).
class JsonConfig : public CLI::Config {
 public:
  std::string to_config(const CLI::App* app, bool default_also, bool /*write_description*/,
                        std::string /*prefix*/) const override {
    nlohmann::json json = nlohmann::json::object();
    for (const CLI::Option* option : app->get_options()) {
      if (!option->get_configurable() || option->get_lnames().empty()) continue;
      if (option->count() > 0) {
        json[option->get_lnames().front()] = option->as<std::string>();
      } else if (default_also && !option->get_default_str().empty()) {
        json[option->get_lnames().front()] = option->get_default_str();
      }
    }
    return json.dump();
  }

  std::vector<CLI::ConfigItem> from_config(std::istream& input) const override {
    nlohmann::json json;
    try {
      json = nlohmann::json::parse(input);
    } catch (const nlohmann::json::exception& e) {
      throw CLI::ConversionError("--config", std::string("not valid JSON: ") + e.what());
    }
    if (!json.is_object()) throw CLI::ConversionError("--config", "the file must hold a JSON object");
    std::vector<CLI::ConfigItem> items;
    for (const auto& [key, value] : json.items()) {
      CLI::ConfigItem item;
      item.name = key;
      for (const auto& element : value.is_array() ? value : nlohmann::json::array({value})) {
        if (element.is_string()) {
          item.inputs.push_back(element.get<std::string>());
        } else if (element.is_number() || element.is_boolean()) {
          item.inputs.push_back(element.dump());
        } else {
          throw CLI::ConversionError(key, "a string, number or boolean is expected, got " + element.dump());
        }
      }
      items.push_back(std::move(item));
    }
    return items;
  }
};

}  // namespace

void AddServerOptions(CLI::App& app, ServerConfig* config) {
  app.config_formatter(std::make_shared<JsonConfig>());
  app.set_config("--config", "", "JSON file whose keys are these flags' long names; flags override it");
  app.allow_config_extras(CLI::config_extras_mode::error);

  app.add_option("--model", config->model_dir, "checkpoint folder to hold resident (default: the embedded model)");
  app.add_option("--device", config->device,
                 "cpu, cuda (every visible GPU) or a list such as cuda:0,cuda:1; jobs spread their modes over the "
                 "devices (a device may repeat: cpu,cpu is two CPU workers)")
      ->capture_default_str()
      ->check(CLI::Validator(
          [](std::string& devices) {
            static const std::regex kDevices("(cpu|cuda|cuda:[0-9]+)(,(cpu|cuda|cuda:[0-9]+))*");
            return std::regex_match(devices, kDevices)
                       ? std::string()
                       : "must be cpu, cuda or cuda:N, or a comma-separated list of them";
          },
          "DEVICE[,DEVICE...]"));
  app.add_option("--listen", config->listen, "HOST:PORT to serve on; port 0 picks a free port")
      ->capture_default_str()
      ->check(CLI::Validator(
          [](std::string& listen) {
            const size_t colon = listen.rfind(':');
            return colon != std::string::npos && colon > 0 && colon + 1 < listen.size() ? std::string()
                                                                                        : "must be HOST:PORT";
          },
          "HOST:PORT"));
  app.add_option("--data-dir", config->data_dir,
                 "folder for the server's files (created; nothing is written elsewhere)")
      ->capture_default_str();
  app.add_option("--data-root", config->data_root,
                 "folder whose files requests may name as data (default: <data-dir>/inputs)")
      ->check(CLI::ExistingDirectory);
  app.add_option("--log-level", config->log_level, "log level")
      ->capture_default_str()
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));
  app.add_option("--token", config->tokens,
                 "a user's token as user:role:sha256hex (role user or admin; repeat for more users or tokens)");
  app.add_flag("--insecure-open", config->insecure_open,
               "without --token, serve every caller even on a non-loopback --listen");
  auto* tls_cert =
      app.add_option("--tls-cert", config->tls_cert, "PEM certificate chain: serve TLS")->check(CLI::ExistingFile);
  auto* tls_key =
      app.add_option("--tls-key", config->tls_key, "PEM private key of --tls-cert")->check(CLI::ExistingFile);
  tls_cert->needs(tls_key);
  tls_key->needs(tls_cert);
  app.add_option("--tls-client-ca", config->tls_client_ca,
                 "PEM CA certificates: callers must present a client certificate signed by one")
      ->check(CLI::ExistingFile)
      ->needs(tls_cert);
  app.add_option("--metrics-listen", config->metrics_listen,
                 "HOST:PORT to serve Prometheus metrics on (GET /metrics, plain HTTP, no token); port 0 picks one");
  QuantizationConfig& quantization = config->quantization;
  app.add_flag("--quantize,!--no-quantize", quantization.enabled,
               "build the W8A8 model at load by calibration (needed by the quantized modes)")
      ->capture_default_str();
  app.add_option("--calibration-samples", quantization.calibration_samples, "calibration sequences")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--calibration-seq-len", quantization.calibration_seq_len, "tokens per calibration sequence")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--calibration-alpha", quantization.percentile_alpha,
                 "percentile of the percentile observers (the evaluated checkpoint used 0.9999)")
      ->capture_default_str()
      ->check(CLI::Range(0.5, 1.0));
  app.add_option("--weight-arithmetic", quantization.weight_arithmetic,
                 "precision of the weight quantization arithmetic: fp16 (as the recipe) or fp32")
      ->capture_default_str()
      ->check(CLI::IsMember({"fp16", "fp32"}));
  app.add_option("--calibration-text", quantization.calibration_text,
                 "text file to calibrate byte-level models on (default: the embedded model's calib.txt)")
      ->check(CLI::ExistingFile);
  app.add_option("--max-samples", config->limits.max_samples, "largest samples a comparison may ask for")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--max-seq-len", config->limits.max_seq_len, "largest seq_len a comparison may ask for")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--max-tokens", config->limits.max_tokens, "largest samples x seq_len a comparison may ask for")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  // GiB on the command line and in the JSON file, bytes in the budget.
  auto add_gib_option = [&app](const std::string& name, int64_t* bytes, const std::string& description) {
    app.add_option_function<double>(
           name, [bytes](double gib) { *bytes = static_cast<int64_t>(std::llround(gib * kBytesPerGib)); }, description)
        ->default_str(GibText(*bytes))
        ->check(CLI::NonNegativeNumber);
  };
  add_gib_option("--compare-device-memory-gib", &config->compare_memory.device_bytes,
                 "GPU memory one comparison may hold for its stored reference captures and exact percentile "
                 "populations (more: the reference is recomputed per mode, then the largest (layer, point)s get "
                 "device |d| histograms with a stated error; below one 2.2 MiB histogram each, the host)");
  add_gib_option("--compare-host-memory-gib", &config->compare_memory.host_bytes,
                 "host memory one comparison may hold for exact percentile populations and stored reference "
                 "captures (more: percentiles become histogram estimates with a stated error, the reference is "
                 "recomputed per mode)");
  app.add_option("--max-concurrent", config->limits.max_concurrent,
                 "comparisons (or shares of one) that run at once on each device")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--max-queued", config->limits.max_queued,
                 "comparisons that may wait for a free slot (0: refuse when all slots are busy)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--max-jobs-per-user", config->limits.max_jobs_per_user,
                 "jobs (and comparisons) one user may have queued or running at once")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--max-request-bytes", config->limits.max_request_bytes,
                 "largest request message (bounds uploaded datasets too)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--max-dataset-bytes", config->limits.max_dataset_bytes,
                 "most bytes a dataset file (data.file or data.upload) may hold once decompressed; reading stops "
                 "there")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--tokenizer", config->tokenizer,
                 "HF tokenizer.json of the model, when its folder holds none (byte-level models need none)")
      ->check(CLI::ExistingFile);
  app.add_option("--calibration-data", quantization.calibration_data,
                 "dataset to calibrate on, tokenized by the model's tokenizer: text, JSON lines (.jsonl), token ids "
                 "(.npy), or gzip of any (default: --calibration-text for byte-level models, else no W8A8 model)")
      ->check(CLI::ExistingFile)
      ->excludes("--calibration-text");
  app.add_option("--calibration-layout", quantization.calibration_layout,
                 "how --calibration-data becomes samples: documents (one per sample, truncated), packed (joined "
                 "and cut), or auto (packed for plain text, documents otherwise)")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto", "documents", "packed"}));
}

std::string ConfigToJson(const ServerConfig& config) {
  nlohmann::json json{{"device", config.device},
                      {"listen", config.listen},
                      {"data-dir", config.data_dir},
                      {"log-level", config.log_level},
                      {"max-samples", config.limits.max_samples},
                      {"max-seq-len", config.limits.max_seq_len},
                      {"max-tokens", config.limits.max_tokens},
                      {"compare-device-memory-gib", config.compare_memory.device_bytes / kBytesPerGib},
                      {"compare-host-memory-gib", config.compare_memory.host_bytes / kBytesPerGib},
                      {"max-concurrent", config.limits.max_concurrent},
                      {"max-queued", config.limits.max_queued},
                      {"max-jobs-per-user", config.limits.max_jobs_per_user},
                      {"insecure-open", config.insecure_open},
                      {"max-request-bytes", config.limits.max_request_bytes},
                      {"max-dataset-bytes", config.limits.max_dataset_bytes},
                      {"quantize", config.quantization.enabled},
                      {"calibration-samples", config.quantization.calibration_samples},
                      {"calibration-seq-len", config.quantization.calibration_seq_len},
                      {"calibration-alpha", config.quantization.percentile_alpha},
                      {"weight-arithmetic", config.quantization.weight_arithmetic},
                      {"calibration-layout", config.quantization.calibration_layout}};
  // Unset paths stay out, so that the output is itself a valid --config file (an empty path names no file).
  if (!config.model_dir.empty()) json["model"] = config.model_dir;
  if (!config.data_root.empty()) json["data-root"] = config.data_root;
  if (!config.quantization.calibration_text.empty()) json["calibration-text"] = config.quantization.calibration_text;
  if (!config.quantization.calibration_data.empty()) json["calibration-data"] = config.quantization.calibration_data;
  if (!config.tokenizer.empty()) json["tokenizer"] = config.tokenizer;
  // Token entries stay out: they hold hashes only, but the log needs no more than their number (main logs it).
  if (!config.metrics_listen.empty()) json["metrics-listen"] = config.metrics_listen;
  if (!config.tls_cert.empty()) json["tls-cert"] = config.tls_cert;
  if (!config.tls_key.empty()) json["tls-key"] = config.tls_key;
  if (!config.tls_client_ca.empty()) json["tls-client-ca"] = config.tls_client_ca;
  return json.dump();
}

}  // namespace layerscope::server
