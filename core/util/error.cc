#include "core/util/error.h"

namespace layerscope {

const char* ErrorKindName(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kInvalidArgument: return "invalid argument";
    case ErrorKind::kNotFound: return "not found";
    case ErrorKind::kFailedPrecondition: return "failed precondition";
    case ErrorKind::kDataLoss: return "data loss";
    case ErrorKind::kResourceExhausted: return "resource exhausted";
    case ErrorKind::kCancelled: return "cancelled";
    case ErrorKind::kInternal: return "internal";
  }
  return "unknown";
}

}  // namespace layerscope
