#include "client/errors.h"

#include <string>

namespace layerscope::client {
namespace {

// Lower-case words for the message, so a user need not know gRPC's code names.
const char* StatusWords(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK: return "ok";
    case grpc::StatusCode::CANCELLED: return "cancelled";
    case grpc::StatusCode::UNKNOWN: return "unknown error";
    case grpc::StatusCode::INVALID_ARGUMENT: return "invalid argument";
    case grpc::StatusCode::DEADLINE_EXCEEDED: return "deadline exceeded (see --timeout)";
    case grpc::StatusCode::NOT_FOUND: return "not found";
    case grpc::StatusCode::ALREADY_EXISTS: return "already exists";
    case grpc::StatusCode::PERMISSION_DENIED: return "permission denied";
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return "resource exhausted";
    case grpc::StatusCode::FAILED_PRECONDITION: return "failed precondition";
    case grpc::StatusCode::ABORTED: return "aborted";
    case grpc::StatusCode::OUT_OF_RANGE: return "out of range";
    case grpc::StatusCode::UNIMPLEMENTED: return "not implemented by this server";
    case grpc::StatusCode::INTERNAL: return "internal server error";
    case grpc::StatusCode::UNAVAILABLE: return "server unavailable";
    case grpc::StatusCode::DATA_LOSS: return "data loss";
    case grpc::StatusCode::UNAUTHENTICATED: return "unauthenticated";
    default: return "error";
  }
}

// The server's message on one line: some list choices one per line (e.g. a mode spec's fields), but the CLI reports
// an error as one line a script can grep.
std::string OneLine(std::string message) {
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  for (size_t at = message.find('\n'); at != std::string::npos; at = message.find('\n', at)) {
    message.replace(at, 1, at > 0 && message[at - 1] == ':' ? " " : "; ");
  }
  return message;
}

}  // namespace

ExitCode ExitCodeFor(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK: return kExitOk;
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::NOT_FOUND:
    case grpc::StatusCode::OUT_OF_RANGE: return kExitUsage;
    case grpc::StatusCode::UNAVAILABLE: return kExitUnreachable;
    default: return kExitFailure;
  }
}

ClientError StatusError(const std::string& what, const grpc::Status& status) {
  const ExitCode code = ExitCodeFor(status.error_code());
  const std::string detail = OneLine(status.error_message());
  std::string message = what + ": ";
  if (code == kExitUsage && !detail.empty()) {
    message += detail;
  } else {
    message += StatusWords(status.error_code());
    if (!detail.empty()) message += ": " + detail;
  }
  return ClientError(code, message);
}

}  // namespace layerscope::client
