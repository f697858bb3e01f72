#include "client/errors.h"

#include <gtest/gtest.h>

namespace layerscope::client {
namespace {

TEST(ExitCodeForTest, MapsStatusCodes) {
  EXPECT_EQ(ExitCodeFor(grpc::StatusCode::OK), kExitOk);
  EXPECT_EQ(ExitCodeFor(grpc::StatusCode::INVALID_ARGUMENT), kExitUsage);
  EXPECT_EQ(ExitCodeFor(grpc::StatusCode::NOT_FOUND), kExitUsage);
  EXPECT_EQ(ExitCodeFor(grpc::StatusCode::OUT_OF_RANGE), kExitUsage);
  EXPECT_EQ(ExitCodeFor(grpc::StatusCode::UNAVAILABLE), kExitUnreachable);
  EXPECT_EQ(ExitCodeFor(grpc::StatusCode::INTERNAL), kExitFailure);
  EXPECT_EQ(ExitCodeFor(grpc::StatusCode::DEADLINE_EXCEEDED), kExitFailure);
  EXPECT_EQ(ExitCodeFor(grpc::StatusCode::RESOURCE_EXHAUSTED), kExitFailure);
  EXPECT_EQ(ExitCodeFor(grpc::StatusCode::CANCELLED), kExitFailure);
}

TEST(StatusErrorTest, KeepsTheServersMessageForTheCallersMistakes) {
  const ClientError e =
      StatusError("compare", grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "modes[0]: unknown mode \"x\""));
  EXPECT_EQ(e.code(), kExitUsage);
  EXPECT_STREQ(e.what(), "compare: modes[0]: unknown mode \"x\"");
}

TEST(StatusErrorTest, NamesOtherCodes) {
  const ClientError e = StatusError("compare", grpc::Status(grpc::StatusCode::UNAVAILABLE, "Socket closed"));
  EXPECT_EQ(e.code(), kExitUnreachable);
  EXPECT_STREQ(e.what(), "compare: server unavailable: Socket closed");
  const ClientError internal = StatusError("modes", grpc::Status(grpc::StatusCode::INTERNAL, ""));
  EXPECT_EQ(internal.code(), kExitFailure);
  EXPECT_STREQ(internal.what(), "modes: internal server error");
}

TEST(StatusErrorTest, EmptyMessageStillSaysWhatWentWrong) {
  EXPECT_STREQ(StatusError("models", grpc::Status(grpc::StatusCode::NOT_FOUND, "")).what(), "models: not found");
}

TEST(StatusErrorTest, MultiLineMessagesBecomeOneLine) {
  const ClientError e = StatusError("compare", grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                                            "unknown field \"x\"; fields:\nbase: 0|fp16\nssm: a|b\n"));
  EXPECT_STREQ(e.what(), "compare: unknown field \"x\"; fields: base: 0|fp16; ssm: a|b");
}

}  // namespace
}  // namespace layerscope::client
