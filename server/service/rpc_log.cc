#include "server/service/rpc_log.h"

#include <spdlog/spdlog.h>

#include "server/service/status.h"

namespace layerscope::server {

void LogRpc(RpcMetrics& metrics, const char* method, grpc::ServerContext* context, const auth::Principal& principal,
            const grpc::Status& status, std::chrono::steady_clock::time_point start, const std::string& what) {
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  metrics.Record(method, StatusCodeName(status.error_code()), seconds);
  const std::string detail =
      principal.user.empty() ? what : "user=" + principal.user + (what.empty() ? "" : " ") + what;
  const auto level = status.error_code() == grpc::StatusCode::INTERNAL ? spdlog::level::err : spdlog::level::info;
  if (status.ok()) {
    spdlog::log(level, "{} from {}: OK in {:.1f} ms{}{}", method, context->peer(), seconds * 1e3,
                detail.empty() ? "" : "; ", detail);
  } else {
    spdlog::log(level, "{} from {}: {} \"{}\" in {:.1f} ms{}{}", method, context->peer(),
                StatusCodeName(status.error_code()), status.error_message(), seconds * 1e3, detail.empty() ? "" : "; ",
                detail);
  }
}

}  // namespace layerscope::server
