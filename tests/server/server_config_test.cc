#include "server/config/server_config.h"

#include <gtest/gtest.h>

#include <CLI/CLI.hpp>
#include <fstream>

#include "tests/server/test_dir.h"

namespace layerscope::server {
namespace {

using testing::TestDir;

// Parses `args` (without the program name) as layerscoped would; throws CLI::ParseError.
ServerConfig Parse(std::vector<std::string> args) {
  ServerConfig config;
  CLI::App app;
  AddServerOptions(app, &config);
  std::vector<const char*> argv{"layerscoped"};
  for (const auto& arg : args) argv.push_back(arg.c_str());
  app.parse(static_cast<int>(argv.size()), argv.data());
  return config;
}

// The ParseError's message for `args`, or "" when they parse.
std::string ParseErrorOf(std::vector<std::string> args) {
  try {
    Parse(std::move(args));
  } catch (const CLI::ParseError& error) {
    return error.what();
  }
  return "";
}

TEST(ServerConfigTest, Defaults) {
  const ServerConfig config = Parse({});
  EXPECT_EQ(config.model_dir, "");
  EXPECT_EQ(config.device, "cpu");
  EXPECT_EQ(config.listen, "127.0.0.1:50051");
  EXPECT_EQ(config.log_level, "info");
  EXPECT_EQ(config.data_root, "");
  EXPECT_EQ(config.limits.max_concurrent, 1);
  EXPECT_TRUE(config.quantization.enabled);
  EXPECT_EQ(config.quantization.calibration_samples, 10);
  EXPECT_EQ(config.quantization.calibration_seq_len, 512);
  EXPECT_EQ(config.quantization.weight_arithmetic, "fp16");
}

TEST(ServerConfigTest, FlagsSetEveryField) {
  TestDir dir;
  const std::string root = dir.Sub("root");
  std::ofstream(dir.path() + "/calib.txt") << "text";
  const ServerConfig config = Parse({"--model",
                                     "/models/m",
                                     "--device",
                                     "cuda:1",
                                     "--listen",
                                     "[::1]:0",
                                     "--data-dir",
                                     "/var/ls",
                                     "--data-root",
                                     root,
                                     "--log-level",
                                     "debug",
                                     "--max-samples",
                                     "5",
                                     "--max-seq-len",
                                     "6",
                                     "--max-tokens",
                                     "30",
                                     "--max-concurrent",
                                     "3",
                                     "--max-queued",
                                     "0",
                                     "--max-request-bytes",
                                     "1000",
                                     "--no-quantize",
                                     "--calibration-samples",
                                     "2",
                                     "--calibration-seq-len",
                                     "64",
                                     "--calibration-alpha",
                                     "0.9999",
                                     "--weight-arithmetic",
                                     "fp32",
                                     "--calibration-text",
                                     dir.path() + "/calib.txt"});
  EXPECT_EQ(config.model_dir, "/models/m");
  EXPECT_EQ(config.device, "cuda:1");
  EXPECT_EQ(config.listen, "[::1]:0");
  EXPECT_EQ(config.data_dir, "/var/ls");
  EXPECT_EQ(config.data_root, root);
  EXPECT_EQ(config.log_level, "debug");
  EXPECT_EQ(config.limits.max_samples, 5);
  EXPECT_EQ(config.limits.max_seq_len, 6);
  EXPECT_EQ(config.limits.max_tokens, 30);
  EXPECT_EQ(config.limits.max_concurrent, 3);
  EXPECT_EQ(config.limits.max_queued, 0);
  EXPECT_EQ(config.limits.max_request_bytes, 1000);
  EXPECT_FALSE(config.quantization.enabled);
  EXPECT_EQ(config.quantization.calibration_samples, 2);
  EXPECT_EQ(config.quantization.calibration_seq_len, 64);
  EXPECT_DOUBLE_EQ(config.quantization.percentile_alpha, 0.9999);
  EXPECT_EQ(config.quantization.weight_arithmetic, "fp32");
  EXPECT_EQ(config.quantization.calibration_text, dir.path() + "/calib.txt");
}

TEST(ServerConfigTest, JsonFileSetsFlagsAndTheCommandLineWins) {
  TestDir dir;
  const std::string file = dir.path() + "/layerscoped.json";
  std::ofstream(file) << R"({"device": "cuda", "max-samples": 7, "log-level": "warn", "quantize": false,
                             "calibration-alpha": 0.999})";
  const ServerConfig config = Parse({"--config", file, "--log-level", "error"});
  EXPECT_EQ(config.device, "cuda");
  EXPECT_EQ(config.limits.max_samples, 7);
  EXPECT_EQ(config.log_level, "error");
  EXPECT_FALSE(config.quantization.enabled);
  EXPECT_DOUBLE_EQ(config.quantization.percentile_alpha, 0.999);
}

TEST(ServerConfigTest, TheEffectiveConfigReadsBackAsAConfigFile) {
  TestDir dir;
  ServerConfig original =
      Parse({"--device", "cuda:0", "--max-queued", "3", "--no-quantize", "--data-root", dir.path()});
  const std::string file = dir.path() + "/effective.json";
  std::ofstream(file) << ConfigToJson(original);
  const ServerConfig reread = Parse({"--config", file});
  EXPECT_EQ(ConfigToJson(reread), ConfigToJson(original));
}

TEST(ServerConfigTest, BadValuesNameTheFlag) {
  EXPECT_NE(ParseErrorOf({"--device", "gpu"}).find("must be cpu, cuda or cuda:N"), std::string::npos);
  EXPECT_NE(ParseErrorOf({"--listen", "localhost"}).find("must be HOST:PORT"), std::string::npos);
  EXPECT_NE(ParseErrorOf({"--log-level", "loud"}).find("--log-level"), std::string::npos);
  EXPECT_NE(ParseErrorOf({"--max-samples", "0"}).find("--max-samples"), std::string::npos);
  EXPECT_NE(ParseErrorOf({"--max-queued", "-1"}).find("--max-queued"), std::string::npos);
  EXPECT_NE(ParseErrorOf({"--weight-arithmetic", "int8"}).find("--weight-arithmetic"), std::string::npos);
  EXPECT_NE(ParseErrorOf({"--data-root", "/nonexistent/root"}).find("--data-root"), std::string::npos);
  EXPECT_NE(ParseErrorOf({"--frobnicate"}).find("--frobnicate"), std::string::npos);
}

TEST(ServerConfigTest, TokenizerAndCalibrationDataFlags) {
  TestDir dir;
  for (const char* name : {"tokenizer.json", "c4.jsonl.gz", "calib.txt"}) std::ofstream(dir.path() + "/" + name) << "x";
  const ServerConfig config = Parse({"--tokenizer", dir.path() + "/tokenizer.json", "--calibration-data",
                                     dir.path() + "/c4.jsonl.gz", "--calibration-layout", "packed"});
  EXPECT_EQ(config.tokenizer, dir.path() + "/tokenizer.json");
  EXPECT_EQ(config.quantization.calibration_data, dir.path() + "/c4.jsonl.gz");
  EXPECT_EQ(config.quantization.calibration_layout, "packed");
  EXPECT_EQ(Parse({}).quantization.calibration_layout, "auto");

  const std::string file = dir.path() + "/effective.json";
  std::ofstream(file) << ConfigToJson(config);
  EXPECT_EQ(ConfigToJson(Parse({"--config", file})), ConfigToJson(config));

  EXPECT_NE(ParseErrorOf({"--calibration-layout", "shuffled"}).find("--calibration-layout"), std::string::npos);
  EXPECT_NE(ParseErrorOf({"--tokenizer", "/nonexistent/tokenizer.json"}).find("--tokenizer"), std::string::npos);
  EXPECT_NE(
      ParseErrorOf({"--calibration-data", dir.path() + "/c4.jsonl.gz", "--calibration-text", dir.path() + "/calib.txt"})
          .find("excludes"),
      std::string::npos);
}

TEST(ServerConfigTest, BadConfigFilesAreRefused) {
  TestDir dir;
  const std::string file = dir.path() + "/bad.json";
  std::ofstream(file) << R"({"max-samples": 7, "colour": "blue"})";
  EXPECT_NE(ParseErrorOf({"--config", file}).find("colour"), std::string::npos);
  std::ofstream(file) << "{not json";
  EXPECT_NE(ParseErrorOf({"--config", file}).find("not valid JSON"), std::string::npos);
  std::ofstream(file) << "[1, 2]";
  EXPECT_NE(ParseErrorOf({"--config", file}).find("JSON object"), std::string::npos);
  std::ofstream(file) << R"({"device": {"name": "cpu"}})";
  EXPECT_NE(ParseErrorOf({"--config", file}).find("a string, number or boolean"), std::string::npos);
}

TEST(ServerConfigTest, TokensTlsAndMetrics) {
  TestDir dir;
  const std::string cert = dir.path() + "/server.pem";
  const std::string key = dir.path() + "/server.key";
  std::ofstream(cert) << "cert";
  std::ofstream(key) << "key";
  const ServerConfig config = Parse({"--token", "alice:user:aa", "--token", "root:admin:bb", "--tls-cert", cert,
                                     "--tls-key", key, "--tls-client-ca", cert, "--metrics-listen", "127.0.0.1:9100",
                                     "--max-jobs-per-user", "3", "--insecure-open"});
  EXPECT_EQ(config.tokens, (std::vector<std::string>{"alice:user:aa", "root:admin:bb"}));
  EXPECT_EQ(config.tls_cert, cert);
  EXPECT_EQ(config.tls_key, key);
  EXPECT_EQ(config.tls_client_ca, cert);
  EXPECT_EQ(config.metrics_listen, "127.0.0.1:9100");
  EXPECT_EQ(config.limits.max_jobs_per_user, 3);
  EXPECT_TRUE(config.insecure_open);

  // A config file lists tokens as an array under "token".
  const std::string file = dir.path() + "/config.json";
  std::ofstream(file) << R"({"token": ["alice:user:aa", "bob:user:cc"]})";
  EXPECT_EQ(Parse({"--config", file}).tokens, (std::vector<std::string>{"alice:user:aa", "bob:user:cc"}));

  EXPECT_NE(ParseErrorOf({"--tls-cert", cert}).find("--tls-cert requires --tls-key"), std::string::npos);
  EXPECT_NE(ParseErrorOf({"--tls-client-ca", cert}).find("--tls-client-ca requires --tls-cert"), std::string::npos);
  EXPECT_NE(ParseErrorOf({"--max-jobs-per-user", "0"}).find("--max-jobs-per-user"), std::string::npos);
}

TEST(ServerConfigTest, MaxDatasetBytesDefaultsToOneGibAndTakesMoreThanAnInt) {
  EXPECT_EQ(Parse({}).limits.max_dataset_bytes, int64_t{1} << 30);
  const ServerConfig config = Parse({"--max-dataset-bytes", "5000000000"});
  EXPECT_EQ(config.limits.max_dataset_bytes, 5000000000);
  EXPECT_NE(ConfigToJson(config).find("\"max-dataset-bytes\":5000000000"), std::string::npos) << ConfigToJson(config);
  EXPECT_NE(ParseErrorOf({"--max-dataset-bytes", "0"}).find("--max-dataset-bytes"), std::string::npos);
}

}  // namespace
}  // namespace layerscope::server
