#include "tests/e2e/shared_server.h"

#include <memory>

namespace layerscope::e2e {

ServerProcess& SharedServer() {
  // A small calibration (2 x 64 bytes instead of 10 x 512) starts the server in about a second; the goldens of the
  // quantized modes were made with it.
  static const std::unique_ptr<ServerProcess> server = std::make_unique<ServerProcess>(
      std::vector<std::string>{"--calibration-samples", "2", "--calibration-seq-len", "64"});
  return *server;
}

std::vector<std::string> Against(const ServerProcess& server, std::vector<std::string> args) {
  args.insert(args.begin(), {"--server", server.address()});
  return args;
}

}  // namespace layerscope::e2e
