#include "server/service/authenticator.h"

#include <utility>

namespace layerscope::server {

Authenticator::Authenticator(std::unique_ptr<auth::TokenStore> tokens) : tokens_(std::move(tokens)) {}

grpc::Status Authenticator::Authenticate(const grpc::ServerContext& context, auth::Principal* principal) const {
  if (open()) {
    principal->user = kAnonymousUser;
    principal->role = auth::Role::kUser;
    return grpc::Status::OK;
  }
  const auto& metadata = context.client_metadata();
  const auto header = metadata.find("authorization");
  const std::string_view value =
      header == metadata.end() ? std::string_view() : std::string_view(header->second.data(), header->second.size());
  std::string error;
  if (!tokens_->Authenticate(value, principal, &error)) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, error);
  }
  return grpc::Status::OK;
}

}  // namespace layerscope::server
