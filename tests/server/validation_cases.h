// Every way a CompareRequest can be refused, with the exact status and message, shared by the validator's unit test
// (request_validator_test.cc) and the same requests sent over the wire to the real server (service_test.cc). Each
// case changes one thing in BaseRequest(); the limits and data-root files are the ones set up below.
#pragma once

#include <grpcpp/support/status_code_enum.h>

#include <functional>
#include <string>
#include <vector>

#include "layerscope/v1/layerscope.pb.h"
#include "server/config/server_config.h"

namespace layerscope::server::testing {

// The limits the cases assume (the server under test is started with the same as flags).
ServerLimits CaseLimits();
std::vector<std::string> CaseLimitFlags();

// A valid request on the embedded model: fp16 against fp32, layers 0 and -1, 2 samples of 64 tokens.
v1::CompareRequest BaseRequest();

// Creates the files the data.file cases name inside `root`: "short.txt" (10 bytes), "folder/" and "escape.txt",
// a symbolic link to a file in `outside` (a folder outside the root).
void PopulateDataRoot(const std::string& root, const std::string& outside);

struct ValidationCase {
  std::string name;
  std::function<void(v1::CompareRequest*)> change;
  grpc::StatusCode code;
  std::string message;  // exact, and one line
};

// For the embedded model (name "embedded", 6 layers, byte-level vocabulary of 256).
std::vector<ValidationCase> ValidationCases();

}  // namespace layerscope::server::testing
