// The layerscoped that the end-to-end tests of one process share: started on first use (the embedded model on
// CPU, its W8A8 model calibrated on 2 x 64 bytes), stopped at exit. Tests that stop, kill or limit a server start their
// own ServerProcess.
#pragma once

#include <string>
#include <vector>

#include "tests/support/server_process.h"

namespace layerscope::e2e {

ServerProcess& SharedServer();

// `args` with "--server ADDRESS" of `server` in front.
std::vector<std::string> Against(const ServerProcess& server, std::vector<std::string> args);

}  // namespace layerscope::e2e
