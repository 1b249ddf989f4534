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

TEST(StackDeployDecoderTest, ReadsNetworksServicesAndOptions) {
  auto decoded = decodeStackDeployRequest(
      R"({"stack":"web","prune":true,"resolveImage":"changed","networks":[{"key":"default",)"
      R"("name":"chaos_net","external":true,"source":"web.yml:9"}],"services":[{"name":)"
      R"("web_web","networks":[{"target":"chaos_net","aliases":["web"]}],"container":)"
      R"({"image":"web:1","hostname":"web-1","labels":{"tier":"front"}}}]})");
  ASSERT_TRUE(decoded) << decoded.error().message;
  EXPECT_EQ(decoded->stack, "web");
  EXPECT_TRUE(decoded->prune);
  EXPECT_EQ(decoded->resolveImage, "changed");
  ASSERT_EQ(decoded->networks.size(), 1u);
  EXPECT_TRUE(decoded->networks[0].external);
  EXPECT_EQ(decoded->networks[0].source, "web.yml:9");
  ASSERT_EQ(decoded->services.size(), 1u);
  EXPECT_EQ(decoded->services[0].container.hostname, "web-1");
  EXPECT_EQ(decoded->services[0].container.labels.at("tier"), "front");
}

TEST(StackDeployDecoderTest, AnEmptyBodyOrAWrongTypeIsInvalidArgument) {
  auto empty = decodeStackDeployRequest("");
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().kind, ErrorKind::InvalidArgument);
  EXPECT_THAT(empty.error().message, HasSubstr("stack deploy: the request body is empty"));
  auto wrong = decodeStackDeployRequest(R"({"stack":"web","networks":[{"external":"yes"}]})");
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().kind, ErrorKind::InvalidArgument);
  EXPECT_THAT(wrong.error().message, HasSubstr("external"));
}

TEST(RunRequestDecoderTest, ReadsEnvAndTheContainerSpec) {
  auto decoded = decodeRunRequest(
      R"({"name":"web","networks":["front"],"env":["A=1"],"container":{"image":"busybox",)"
      R"("entrypoint":["/bin/sh"],"mounts":[{"type":"bind","source":"/srv","target":"/data",)"
      R"("readOnly":true}],"init":true}})");
  ASSERT_TRUE(decoded) << decoded.error().message;
  EXPECT_EQ(decoded->env, (std::vector<std::string>{"A=1"}));
  EXPECT_EQ(decoded->container.image, "busybox");
  EXPECT_EQ(decoded->container.entrypoint, (std::vector<std::string>{"/bin/sh"}));
  ASSERT_EQ(decoded->container.mounts.size(), 1u);
  EXPECT_EQ(decoded->container.mounts[0], (api::Mount{"bind", "/srv", "/data", true}));
  EXPECT_TRUE(decoded->container.init);
  EXPECT_TRUE(decoded->command.empty());
}

TEST(RunRequestDecoderTest, AWrongTypeInTheContainerIsInvalidArgument) {
  auto decoded =
      decodeRunRequest(R"({"networks":["front"],"container":{"mounts":[{"readOnly":"yes"}]}})");
  ASSERT_FALSE(decoded);
  EXPECT_EQ(decoded.error().kind, ErrorKind::InvalidArgument);
  EXPECT_THAT(decoded.error().message, HasSubstr("readOnly"));
}

TEST(ServiceSpecDecoderTest, AWrongTypeIsInvalidArgumentNamingTheField) {
  auto decoded =
      decodeJson<api::ServiceSpec>(R"({"name":"web","replicas":"three"})", "service create");
  ASSERT_FALSE(decoded);
  EXPECT_EQ(decoded.error().kind, ErrorKind::InvalidArgument);
  EXPECT_THAT(decoded.error().message, HasSubstr("field \"replicas\""));
  auto nested = decodeJson<api::ServiceUpdateRequest>(
      R"({"spec":{"name":"web","healthCheck":{"retries":1.5}},"updateIndex":1})", "service update");
  ASSERT_FALSE(nested);
  EXPECT_THAT(nested.error().message, HasSubstr("field \"retries\""));
}

TEST(ServiceUpdateDecoderTest, ReadsTheUpdateIndexItWasReadAt) {
  auto decoded = decodeJson<api::ServiceUpdateRequest>(
      R"({"spec":{"name":"web","replicas":6},"updateIndex":7,"force":true})", "service update");
  ASSERT_TRUE(decoded) << decoded.error().message;
  EXPECT_EQ(decoded->updateIndex, 7);
  EXPECT_EQ(decoded->spec.replicas, 6);
  EXPECT_TRUE(decoded->force);
}

// Without the index the update could overwrite a concurrent one unseen: refused.
TEST(ServiceUpdateDecoderTest, AMissingUpdateIndexIsInvalidArgumentNamingTheField) {
  for (const char* body : {R"({"spec":{"name":"web"}})", R"({"spec":{"name":"web"},"version":3})",
                           R"({"spec":{"name":"web"},"updateIndex":null})"}) {
    auto decoded = decodeJson<api::ServiceUpdateRequest>(body, "service update");
    ASSERT_FALSE(decoded) << body;
    EXPECT_EQ(decoded.error().kind, ErrorKind::InvalidArgument);
    EXPECT_THAT(decoded.error().message,
                HasSubstr("service update: field \"updateIndex\" is missing"));
  }
}

}  // namespace
}  // namespace overmesh::daemon
