// How failures reach a caller: the core's Error kinds (and the validator's, which uses the same type) become gRPC
// status codes with the message unchanged, since it already names the field, file or value at fault.
#pragma once

#include <grpcpp/support/status.h>

#include <string>

#include "core/util/error.h"

namespace layerscope::server {

grpc::StatusCode ToGrpcCode(ErrorKind kind);

grpc::Status ToGrpcStatus(const Error& error);

// "INVALID_ARGUMENT", ... for logs.
const char* StatusCodeName(grpc::StatusCode code);

// The code StatusCodeName gives `name` (a stored job's error code); UNKNOWN for a name it never gives.
grpc::StatusCode StatusCodeFromName(const std::string& name);

// The status for the exception being handled; call only inside a catch block. layerscope::Error keeps its kind,
// std::bad_alloc is RESOURCE_EXHAUSTED, anything else INTERNAL (a bug, but the server keeps serving).
grpc::Status CurrentExceptionStatus();

}  // namespace layerscope::server
