#include "server/auth/token_store.h"

#include <gtest/gtest.h>

#include <set>

#include "core/util/error.h"

namespace layerscope::auth {
namespace {

// echo -n abc | sha256sum (FIPS 180-2 test vector).
constexpr char kAbcSha256[] = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

template <typename F>
std::string ErrorOf(F f) {
  try {
    f();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
    return e.what();
  }
  ADD_FAILURE() << "no layerscope::Error thrown";
  return "";
}

TEST(TokenStoreTest, HashesWithSha256) {
  EXPECT_EQ(Sha256Hex("abc"), kAbcSha256);
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(TokenStoreTest, ComparesByContent) {
  EXPECT_TRUE(ConstantTimeEquals("same", "same"));
  EXPECT_FALSE(ConstantTimeEquals("same", "sama"));
  EXPECT_FALSE(ConstantTimeEquals("same", "samer"));
  EXPECT_TRUE(ConstantTimeEquals("", ""));
}

TEST(TokenStoreTest, NewTokensAreRandomAndPrefixed) {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    const std::string token = NewToken();
    ASSERT_EQ(token.size(), 67u);
    EXPECT_EQ(token.rfind("ls_", 0), 0u);
    seen.insert(token);
  }
  EXPECT_EQ(seen.size(), 100u);
}

TEST(TokenStoreTest, AuthenticatesKnownTokensWithTheirRole) {
  const std::string alice_token = NewToken();
  const std::string root_token = NewToken();
  const std::string alice_rotated = NewToken();
  const TokenStore store({ParseTokenEntry("alice:user:" + Sha256Hex(alice_token)),
                          ParseTokenEntry("root:admin:" + Sha256Hex(root_token)),
                          TokenEntry{"alice", Role::kUser, Sha256Hex(alice_rotated)}});
  EXPECT_EQ(store.size(), 3u);
  Principal who;
  std::string error;
  ASSERT_TRUE(store.Authenticate("Bearer " + alice_token, &who, &error)) << error;
  EXPECT_EQ(who.user, "alice");
  EXPECT_FALSE(who.is_admin());
  ASSERT_TRUE(store.Authenticate("bearer  " + alice_rotated + " ", &who, &error)) << error;
  EXPECT_EQ(who.user, "alice");
  ASSERT_TRUE(store.Authenticate("BEARER " + root_token, &who, &error)) << error;
  EXPECT_EQ(who.user, "root");
  EXPECT_TRUE(who.is_admin());
  EXPECT_STREQ(RoleName(who.role), "admin");
}

TEST(TokenStoreTest, RefusesMissingMalformedAndUnknownTokens) {
  const std::string token = NewToken();
  const TokenStore store({ParseTokenEntry("alice:user:" + Sha256Hex(token))});
  Principal who{"nobody", Role::kUser};
  std::string error;
  EXPECT_FALSE(store.Authenticate("", &who, &error));
  EXPECT_EQ(error, "missing credentials: send the header 'authorization: Bearer <token>'");
  EXPECT_FALSE(store.Authenticate("Basic " + token, &who, &error));
  EXPECT_EQ(error, "the authorization header is not a bearer token: expected 'Bearer <token>'");
  EXPECT_FALSE(store.Authenticate(token, &who, &error));
  EXPECT_FALSE(store.Authenticate("Bearer " + NewToken(), &who, &error));
  EXPECT_EQ(error, "unknown or revoked token");
  EXPECT_FALSE(store.Authenticate("Bearer " + token.substr(1), &who, &error));
  EXPECT_FALSE(store.Authenticate("Bearer ", &who, &error));
  // The hash itself is not a token: a stolen config grants nothing.
  EXPECT_FALSE(store.Authenticate("Bearer " + Sha256Hex(token), &who, &error));
  EXPECT_EQ(who.user, "nobody");
  const TokenStore empty({});
  EXPECT_FALSE(empty.Authenticate("Bearer " + token, &who, &error));
}

TEST(TokenStoreTest, RefusesBadConfigEntries) {
  const std::string hash = Sha256Hex("t");
  EXPECT_EQ(ErrorOf([&] { ParseTokenEntry("alice:" + hash); }),
            "token entry: expected user:role:sha256hex, got 70 characters without two ':'");
  EXPECT_EQ(ErrorOf([&] { ParseTokenEntry("alice:root:" + hash); }),
            "token for user 'alice': role 'root' is not user or admin");
  const std::string not_hex = ErrorOf([] { TokenStore({ParseTokenEntry("alice:user:plain-token")}); });
  EXPECT_NE(not_hex.find("must be 64 hex digits"), std::string::npos) << not_hex;
  EXPECT_EQ(not_hex.find("plain-token"), std::string::npos) << "the message repeats the secret";
  EXPECT_NE(ErrorOf([&] { TokenStore({TokenEntry{"a/b", Role::kUser, hash}}); }).find("user 'a/b'"), std::string::npos);
  EXPECT_EQ(ErrorOf([&] {
              TokenStore({TokenEntry{"a", Role::kUser, hash}, TokenEntry{"b", Role::kUser, hash}});
            }),
            "token entry for user 'b': the same token hash is already listed for user 'a'");
  EXPECT_EQ(ErrorOf([&] {
              TokenStore({TokenEntry{"a", Role::kUser, hash}, TokenEntry{"a", Role::kAdmin, Sha256Hex("u")}});
            }),
            "token entries for user 'a' give two roles, user and admin");
  // Upper-case hex (as some tools print it) is the same hash.
  std::string upper = hash;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  const TokenStore store({TokenEntry{"a", Role::kUser, upper}});
  Principal who;
  std::string error;
  EXPECT_TRUE(store.Authenticate("Bearer t", &who, &error)) << error;
}

}  // namespace
}  // namespace layerscope::auth
