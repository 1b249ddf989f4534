// The bodies of the service and node-update routes, as a client (or anything else) sends
// them: decoded strictly, InvalidArgument naming the field, never a throw.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "api/service_types.h"
#include "common/json.h"
#include "daemon/local_api.h"

namespace overmesh::daemon {
namespace {

using ::testing::HasSubstr;

TEST(NodeUpdateDecoderTest, ReadsLabelsToAddAndRemove) {
  auto decoded = decodeNodeUpdateRequest(R"({"labelAdd":{"zone":"a"},"labelRm":["disk"]})");
  ASSERT_TRUE(decoded) << decoded.error().message;
  EXPECT_EQ(decoded->labelAdd, (api::Labels{{"zone", "a"}}));
  EXPECT_EQ(decoded->labelRm, (std::vector<std::string>{"disk"}));
}

TEST(NodeUpdateDecoderTest, AWrongTypeIsInvalidArgumentNamingTheField) {
  auto decoded = decodeNodeUpdateRequest(R"({"labelAdd":{"zone":1}})");
  ASSERT_FALSE(decoded);
  EXPECT_EQ(decoded.error().kind, ErrorKind::InvalidArgument);
  EXPECT_THAT(decoded.error().message, HasSubstr("node update: field \"labelAdd\""));
  auto notJson = decodeNodeUpdateRequest("{labelRm");
  ASSERT_FALSE(notJson);
  EXPECT_THAT(notJson.error().message, HasSubstr("not valid JSON"));
}

TEST(ServiceSpecDecoderTest, AWrongTypeIsInvalidArgumentNamingTheField) {
  auto decoded =
      decodeJson<api::ServiceSpec>(R"({"name":"web","replicas":"three"})", "service create");
  ASSERT_FALSE(decoded);
  EXPECT_EQ(decoded.error().kind, ErrorKind::InvalidArgument);
  EXPECT_THAT(decoded.error().message, HasSubstr("field \"replicas\""));
  auto nested = decodeJson<api::ServiceUpdateRequest>(
      R"({"spec":{"name":"web","healthCheck":{"retries":1.5}},"version":1})", "service update");
  ASSERT_FALSE(nested);
  EXPECT_THAT(nested.error().message, HasSubstr("field \"retries\""));
}

}  // namespace
}  // namespace overmesh::daemon
