// ClientError: a failure the CLI reports as one line on stderr, `layerscope: error: <message>`, with an exit code
// a script can branch on.
#pragma once

#include <grpcpp/support/status.h>

#include <stdexcept>
#include <string>

namespace layerscope::client {

enum ExitCode : int {
  kExitOk = 0,
  kExitFailure = 1,      // any other failure (server error, deadline, I/O)
  kExitUsage = 2,        // bad command line, or a request the server rejected as invalid
  kExitUnreachable = 3,  // no server at the address, or the server went away mid-call
  kExitFailIf = 4,       // the comparison ran, and --fail-if matched at least one of its rows
};

class ClientError : public std::runtime_error {
 public:
  ClientError(ExitCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ExitCode code() const { return code_; }

 private:
  ExitCode code_;
};

// The exit code for a failed RPC's status: INVALID_ARGUMENT, NOT_FOUND and OUT_OF_RANGE are the caller's mistake
// (usage); UNAVAILABLE means the server cannot be reached or went away; everything else is a failure.
ExitCode ExitCodeFor(grpc::StatusCode code);

// The error for a failed RPC. `what` says what was being done ("compare"). The server's message already names the
// field and value at fault, so it is kept verbatim; codes other than the caller's mistakes are named in front of it.
ClientError StatusError(const std::string& what, const grpc::Status& status);

}  // namespace layerscope::client
