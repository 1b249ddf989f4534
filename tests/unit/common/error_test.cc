#include "common/error.h"

#include <cerrno>

#include <gtest/gtest.h>

namespace overmesh {
namespace {

TEST(ErrorTest, KindNamesRoundTrip) {
  for (auto kind : {ErrorKind::InvalidArgument, ErrorKind::NotFound, ErrorKind::Conflict,
                    ErrorKind::FailedPrecondition, ErrorKind::Unauthenticated, ErrorKind::PermissionDenied,
                    ErrorKind::Unavailable, ErrorKind::Compacted, ErrorKind::Internal}) {
    EXPECT_EQ(errorKindFromName(errorKindName(kind)), kind);
  }
}

TEST(ErrorTest, UnknownKindNameIsInternal) {
  EXPECT_EQ(errorKindFromName("NoSuchKind"), ErrorKind::Internal);
}

TEST(ErrorTest, ContextIsPrefixedAndKindKept) {
  Error error{ErrorKind::Conflict, "name taken"};
  Error wrapped = error.withContext("network create");
  EXPECT_EQ(wrapped.kind, ErrorKind::Conflict);
  EXPECT_EQ(wrapped.message, "network create: name taken");
}

TEST(ErrorTest, ErrnoTextQuotesTheKernel) {
  EXPECT_EQ(errnoText(ENOENT), "No such file or directory");
}

TEST(ErrorTest, ErrorfFormats) {
  Result<int> result = errorf(ErrorKind::NotFound, "network {} not found", "chaos_net");
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().message, "network chaos_net not found");
}

}  // namespace
}  // namespace overmesh
