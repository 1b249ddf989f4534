// The cluster protocol's decoders fed what a hostile or broken peer sends: they return
// InvalidArgument naming the field, never throw.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "api/api_error.h"
#include "manager/cluster_api.h"
#include "store/wire.h"

namespace overmesh::manager {
namespace {

using ::testing::HasSubstr;

TEST(JoinRequestDecoderTest, TheTwoBytesThatKilledTheManagerAreInvalidArgument) {
  auto decoded = decodeJoinRequest("\xce\x3b");
  ASSERT_FALSE(decoded.has_value());
  EXPECT_EQ(decoded.error().kind, ErrorKind::InvalidArgument);
  EXPECT_THAT(decoded.error().message, HasSubstr("not valid JSON"));
  // The error body that goes back to the peer is valid JSON.
  auto body = nlohmann::json::parse(api::errorResponse(decoded.error()).body, nullptr, false);
  EXPECT_FALSE(body.is_discarded());
}

TEST(JoinRequestDecoderTest, WrongTypeIsNamed) {
  auto decoded = decodeJoinRequest(R"({"token":["a"],"hostname":"h","address":"198.18.0.2"})");
  ASSERT_FALSE(decoded.has_value());
  EXPECT_THAT(decoded.error().message, HasSubstr("field \"token\" has the wrong type"));
}

TEST(StatusReportDecoderTest, MissingStateIsNamed) {
  auto decoded = decodeStatusReport(R"({"message":"x","exitCode":1})");
  ASSERT_FALSE(decoded.has_value());
  EXPECT_THAT(decoded.error().message, HasSubstr("field \"state\" is missing"));
}

TEST(StatusReportDecoderTest, HugeExitCodeIsRefused) {
  for (const char* body : {R"({"state":"exited","exitCode":1e300})",
                           R"({"state":"exited","exitCode":18446744073709551615})",
                           R"({"state":"exited","exitCode":"3"})"}) {
    auto decoded = decodeStatusReport(body);
    ASSERT_FALSE(decoded.has_value()) << body;
    EXPECT_THAT(decoded.error().message, HasSubstr("exitCode")) << body;
  }
}

TEST(StatusReportDecoderTest, ValidReportDecodes) {
  auto decoded = decodeStatusReport(R"({"state":"exited","message":"done","exitCode":3})");
  ASSERT_TRUE(decoded.has_value()) << decoded.error().message;
  EXPECT_EQ(decoded->state, "exited");
  EXPECT_EQ(decoded->exitCode, 3);
}

TEST(WatchWireTest, MalformedAnswersThrowStdExceptionsNamingTheField) {
  for (
      const char* body :
      {R"({"nextRevision":1})", R"({"events":5,"nextRevision":1})",
       R"({"events":[{"type":"put"}],"nextRevision":1})",
       R"({"events":[{"type":"put","kv":{"key":"k","value":"v","createRevision":1e300,"modRevision":1}}],"nextRevision":1})",
       R"({"events":[],"nextRevision":"7"})", R"([1,2])"}) {
    auto json = nlohmann::json::parse(body);
    EXPECT_THROW((void)store::watchResultFromJson(json), std::exception) << body;
  }
}

}  // namespace
}  // namespace overmesh::manager
