// TokenStore: who a bearer token belongs to. The server's config lists, per user, the SHA-256 of each token (never
// the token itself, so a leaked config or backup grants nothing) and the user's role; every RPC presents
// "authorization: Bearer <token>", which Authenticate hashes and compares with every entry in constant time.
//
// A user may have several tokens at once, which is how a token is rotated: add the new hash, hand the new token
// out, then remove the old hash.
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <vector>

namespace layerscope::auth {

enum class Role {
  kUser,   // sees and cancels only their own jobs
  kAdmin,  // sees and cancels everyone's
};

const char* RoleName(Role role);

struct TokenEntry {
  std::string user;
  Role role = Role::kUser;
  std::string token_sha256;  // 64 hex digits
};

// The config's form of an entry, "user:role:sha256hex" (role "user" or "admin"). Throws layerscope::Error
// (kInvalidArgument) naming the part at fault; the message never repeats the hash.
TokenEntry ParseTokenEntry(std::string_view spec);

struct Principal {
  std::string user;
  Role role = Role::kUser;
  bool is_admin() const { return role == Role::kAdmin; }
};

// SHA-256 of `data` as 64 lowercase hex digits (OpenSSL EVP).
std::string Sha256Hex(std::string_view data);

// Equal contents, in time that depends on the lengths only (CRYPTO_memcmp).
bool ConstantTimeEquals(std::string_view a, std::string_view b);

// A new token: "ls_" and 64 hex digits (256 bits from OpenSSL's CSPRNG). The prefix lets secret scanners spot one.
std::string NewToken();

class TokenStore {
 public:
  // Throws layerscope::Error (kInvalidArgument) for a hash that is not 64 hex digits, an empty or ill-formed user
  // name, one hash listed twice, or a user listed with two roles.
  explicit TokenStore(const std::vector<TokenEntry>& entries);

  // `authorization` is the header's value, "Bearer <token>" (scheme case-insensitive). On success fills *principal
  // and returns true; otherwise sets *error to why (missing header, not a bearer token, unknown token), never
  // echoing the token.
  bool Authenticate(std::string_view authorization, Principal* principal, std::string* error) const;

  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    std::array<unsigned char, 32> digest;
    Principal principal;
  };
  std::vector<Entry> entries_;
};

}  // namespace layerscope::auth
