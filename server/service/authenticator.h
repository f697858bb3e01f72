// Authenticator: who is calling. With tokens configured, every RPC must carry "authorization: Bearer <token>"
// metadata naming one of them; without tokens the server is open and every caller is the user "anonymous" (main
// allows that on loopback only, or with --insecure-open).
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>

#include "server/auth/token_store.h"

namespace layerscope::server {

inline constexpr char kAnonymousUser[] = "anonymous";

class Authenticator {
 public:
  // `tokens` null: open.
  explicit Authenticator(std::unique_ptr<auth::TokenStore> tokens);

  bool open() const { return tokens_ == nullptr; }

  // OK and *principal set, or UNAUTHENTICATED saying what was wrong (never echoing the token).
  grpc::Status Authenticate(const grpc::ServerContext& context, auth::Principal* principal) const;

 private:
  std::unique_ptr<auth::TokenStore> tokens_;
};

}  // namespace layerscope::server
