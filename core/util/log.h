// Logging from the core library. The core cannot include spdlog (on the GPU machine LibTorch's bundled fmt
// breaks it), so it writes to a sink the host program installs; the server forwards to spdlog. Without a sink
// messages at warning and above go to stderr. Never call from hot loops.
#pragma once

#include <functional>
#include <string>

namespace layerscope {

enum class LogLevel { kDebug, kInfo, kWarn, kError };

using LogSink = std::function<void(LogLevel, const std::string&)>;

void SetLogSink(LogSink sink);
void Log(LogLevel level, const std::string& message);

}  // namespace layerscope
