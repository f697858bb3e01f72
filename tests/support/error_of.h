// ErrorOf and KindOf: run code that should throw layerscope::Error and return its message or kind, so that tests can
// check what the error names.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "core/util/error.h"

namespace layerscope {

// The message of the Error `f` throws, its kind in *kind; fails the test if it throws none.
template <class F>
std::string ErrorOf(F f, ErrorKind* kind = nullptr) {
  try {
    f();
  } catch (const Error& e) {
    if (kind) *kind = e.kind();
    return e.what();
  }
  ADD_FAILURE() << "no Error thrown";
  return "";
}

// The kind of the Error `f` throws (kInternal, and a failed test, if it throws none); its message in *message.
template <class F>
ErrorKind KindOf(F f, std::string* message = nullptr) {
  ErrorKind kind = ErrorKind::kInternal;
  const std::string what = ErrorOf(f, &kind);
  if (message != nullptr) *message = what;
  return kind;
}

}  // namespace layerscope
