#include "core/util/log.h"

#include <cstdio>
#include <mutex>

namespace layerscope {
namespace {

std::mutex& SinkMutex() {
  static std::mutex mu;
  return mu;
}

LogSink& Sink() {
  static LogSink sink;
  return sink;
}

}  // namespace

void SetLogSink(LogSink sink) {
  std::lock_guard<std::mutex> lock(SinkMutex());
  Sink() = std::move(sink);
}

void Log(LogLevel level, const std::string& message) {
  std::lock_guard<std::mutex> lock(SinkMutex());
  if (Sink()) {
    Sink()(level, message);
  } else if (level >= LogLevel::kWarn) {
    std::fprintf(stderr, "layerscope: %s\n", message.c_str());
  }
}

}  // namespace layerscope
