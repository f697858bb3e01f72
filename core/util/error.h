// Error: the one exception type the core library throws. Its kind maps onto a gRPC status code at the service
// boundary; its message names the file, key, field or value at fault and what was expected.
#pragma once

#include <stdexcept>
#include <string>

namespace layerscope {

enum class ErrorKind {
  kInvalidArgument,     // the caller asked for something that cannot be (bad mode, layer, size, ...)
  kNotFound,            // a file, model, mode or key that does not exist
  kFailedPrecondition,  // valid request, but the state does not allow it (e.g. FP reference on a Quamba-only model)
  kDataLoss,            // a file exists but is corrupt, truncated or inconsistent
  kResourceExhausted,   // over a configured limit or out of memory
  kCancelled,           // the caller went away
  kInternal,            // a bug: should not happen
};

const char* ErrorKindName(ErrorKind kind);

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
  ErrorKind kind() const { return kind_; }

 private:
  ErrorKind kind_;
};

}  // namespace layerscope
