// Sha256: an incremental SHA-256 (OpenSSL's libcrypto, which gRPC links already) of the arrays a save streams:
// the server computes each file's (captures.proto's FileEnd.sha256) and `layerscope save` checks the one it wrote
// against it. Its own small library (layerscope_sha256), linked by both, so that both hash the same way.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

struct evp_md_ctx_st;

namespace layerscope {

class Sha256 {
 public:
  // Throws std::runtime_error when libcrypto cannot set up the digest.
  Sha256();
  void Update(const void* data, size_t size);
  // 64 lowercase hex digits of everything updated with; call once.
  std::string HexDigest();

 private:
  std::unique_ptr<evp_md_ctx_st, void (*)(evp_md_ctx_st*)> context_;
};

}  // namespace layerscope
