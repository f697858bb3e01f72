#include "server/auth/token_store.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cctype>
#include <map>

#include "core/util/error.h"

namespace layerscope::auth {
namespace {

constexpr char kHex[] = "0123456789abcdef";

std::array<unsigned char, 32> Sha256(std::string_view data) {
  std::array<unsigned char, 32> digest{};
  unsigned int size = 0;
  if (EVP_Digest(data.data(), data.size(), digest.data(), &size, EVP_sha256(), nullptr) != 1 || size != 32) {
    throw Error(ErrorKind::kInternal, "token store: OpenSSL SHA-256 failed");
  }
  return digest;
}

std::string ToHex(const unsigned char* bytes, size_t n) {
  std::string hex(2 * n, '0');
  for (size_t i = 0; i < n; ++i) {
    hex[2 * i] = kHex[bytes[i] >> 4];
    hex[2 * i + 1] = kHex[bytes[i] & 0xf];
  }
  return hex;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// User names appear in logs, job records and file paths: letters, digits, '.', '_', '-' only.
bool ValidUser(std::string_view user) {
  if (user.empty() || user.size() > 64) return false;
  for (char c : user) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') return false;
  }
  return true;
}

Role ParseRole(std::string_view name, std::string_view user) {
  if (name == "user") return Role::kUser;
  if (name == "admin") return Role::kAdmin;
  throw Error(ErrorKind::kInvalidArgument,
              "token for user '" + std::string(user) + "': role '" + std::string(name) + "' is not user or admin");
}

}  // namespace

const char* RoleName(Role role) { return role == Role::kAdmin ? "admin" : "user"; }

std::string Sha256Hex(std::string_view data) {
  const auto digest = Sha256(data);
  return ToHex(digest.data(), digest.size());
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string NewToken() {
  unsigned char bytes[32];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) throw Error(ErrorKind::kInternal, "token store: RAND_bytes failed");
  return "ls_" + ToHex(bytes, sizeof(bytes));
}

TokenEntry ParseTokenEntry(std::string_view spec) {
  const size_t first = spec.find(':');
  const size_t second = first == std::string_view::npos ? first : spec.find(':', first + 1);
  if (second == std::string_view::npos) {
    throw Error(ErrorKind::kInvalidArgument, "token entry: expected user:role:sha256hex, got " +
                                                 std::to_string(spec.size()) + " characters without two ':'");
  }
  TokenEntry entry;
  entry.user = std::string(spec.substr(0, first));
  entry.role = ParseRole(spec.substr(first + 1, second - first - 1), entry.user);
  entry.token_sha256 = std::string(spec.substr(second + 1));
  return entry;
}

TokenStore::TokenStore(const std::vector<TokenEntry>& entries) {
  std::map<std::string, Role> roles;
  for (const TokenEntry& e : entries) {
    if (!ValidUser(e.user)) {
      throw Error(ErrorKind::kInvalidArgument,
                  "token entry: user '" + e.user + "' must be 1 to 64 letters, digits, '.', '_' or '-'");
    }
    Entry entry;
    bool hex_ok = e.token_sha256.size() == 64;
    for (size_t i = 0; hex_ok && i < 32; ++i) {
      const int hi = HexValue(e.token_sha256[2 * i]);
      const int lo = HexValue(e.token_sha256[2 * i + 1]);
      hex_ok = hi >= 0 && lo >= 0;
      entry.digest[i] = static_cast<unsigned char>(hi << 4 | lo);
    }
    if (!hex_ok) {
      throw Error(ErrorKind::kInvalidArgument, "token entry for user '" + e.user +
                                                   "': the hash must be 64 hex digits (the SHA-256 of the token, "
                                                   "from layerscope-hash-token), not the token itself");
    }
    for (const Entry& other : entries_) {
      if (other.digest == entry.digest) {
        throw Error(ErrorKind::kInvalidArgument, "token entry for user '" + e.user +
                                                     "': the same token hash is already listed for user '" +
                                                     other.principal.user + "'");
      }
    }
    auto [it, inserted] = roles.emplace(e.user, e.role);
    if (!inserted && it->second != e.role) {
      throw Error(ErrorKind::kInvalidArgument, "token entries for user '" + e.user + "' give two roles, " +
                                                   RoleName(it->second) + " and " + RoleName(e.role));
    }
    entry.principal = Principal{e.user, e.role};
    entries_.push_back(std::move(entry));
  }
}

bool TokenStore::Authenticate(std::string_view authorization, Principal* principal, std::string* error) const {
  if (authorization.empty()) {
    *error = "missing credentials: send the header 'authorization: Bearer <token>'";
    return false;
  }
  constexpr std::string_view kScheme = "bearer ";
  bool bearer = authorization.size() > kScheme.size();
  for (size_t i = 0; bearer && i < kScheme.size(); ++i) {
    bearer = std::tolower(static_cast<unsigned char>(authorization[i])) == kScheme[i];
  }
  if (!bearer) {
    *error = "the authorization header is not a bearer token: expected 'Bearer <token>'";
    return false;
  }
  std::string_view token = authorization.substr(kScheme.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  const auto digest = Sha256(token);
  // Every entry is compared, whatever matched, so that the time taken says nothing about which entry (if any) did.
  const Entry* match = nullptr;
  for (const Entry& entry : entries_) {
    const bool equal = CRYPTO_memcmp(entry.digest.data(), digest.data(), digest.size()) == 0;
    if (equal) match = &entry;
  }
  if (token.empty() || match == nullptr) {
    *error = "unknown or revoked token";
    return false;
  }
  *principal = match->principal;
  return true;
}

}  // namespace layerscope::auth
