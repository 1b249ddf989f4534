#include "manager/service_validation.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>

namespace overmesh::manager {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

api::ServiceSpec validSpec() {
  api::ServiceSpec spec;
  spec.name = "web";
  spec.command = {"httpd", "-f"};
  spec.networks = {{"front", {"www"}}};
  return spec;
}

TEST(ServiceValidationTest, AcceptsAValidSpecWithEverySectionSet) {
  auto spec = validSpec();
  spec.env = {"PORT=80", "_X=", "A1=b=c"};
  spec.constraints = {"node.labels.zone==a", "node.role!=manager"};
  spec.healthCheck = api::HealthCheck{{"/bin/sh", "-c", "true"}, 1000, 500, 1, 0};
  spec.labels = {{"com.example/team", "web"}};
  spec.restartPolicy = {"on-failure", 0, 3, 60000};
  EXPECT_TRUE(validateServiceSpec(spec));
  spec.mode = "global";
  spec.replicas = 0;
  EXPECT_TRUE(validateServiceSpec(spec));
}

struct BadSpec {
  const char* name;
  std::function<void(api::ServiceSpec&)> change;
  std::vector<std::string> mentions;  // the flag and the value, at least
};

void PrintTo(const BadSpec& bad, std::ostream* out) { *out << bad.name; }

class ServiceValidationBadSpecTest : public ::testing::TestWithParam<BadSpec> {};

TEST_P(ServiceValidationBadSpecTest, IsInvalidArgumentNamingTheFlagAndTheValue) {
  auto spec = validSpec();
  GetParam().change(spec);
  auto refused = validateServiceSpec(spec);
  ASSERT_FALSE(refused) << GetParam().name;
  EXPECT_EQ(refused.error().kind, ErrorKind::InvalidArgument);
  for (const auto& mention : GetParam().mentions) {
    EXPECT_THAT(refused.error().message, HasSubstr(mention)) << GetParam().name;
  }
}

INSTANTIATE_TEST_SUITE_P(
    EveryField, ServiceValidationBadSpecTest,
    ::testing::Values(
        BadSpec{"EmptyName", [](auto& s) { s.name = ""; }, {"--name", "service name is required"}},
        BadSpec{"BadName", [](auto& s) { s.name = "-web"; }, {"--name", "\"-web\""}},
        BadSpec{"Mode", [](auto& s) { s.mode = "daemon"; }, {"--mode", "\"daemon\"", "global"}},
        BadSpec{
            "NegativeReplicas", [](auto& s) { s.replicas = -1; }, {"--replicas -1", "0 to 1000"}},
        BadSpec{"TooManyReplicas", [](auto& s) { s.replicas = 1001; }, {"--replicas 1001"}},
        BadSpec{"ReplicasWithGlobal",
                [](auto& s) {
                  s.mode = "global";
                  s.replicas = 3;
                },
                {"--replicas 3", "--mode global"}},
        BadSpec{"NoCommand",
                [](auto& s) { s.command.clear(); },
                {"give --image IMAGE, or a command after --"}},
        BadSpec{"EmptyCommand", [](auto& s) { s.command = {""}; }, {"first word is empty"}},
        BadSpec{"ContainerFieldWithoutImage",
                [](auto& s) { s.container.workdir = "/srv"; },
                {"--workdir needs --image"}},
        BadSpec{"BadContainerMount",
                [](auto& s) {
                  s.container.image = "web";
                  s.container.mounts = {{"volume", "", "/etc/hosts", false}};
                },
                {"--mount target", "/etc/hosts"}},
        BadSpec{"EnvWithoutEquals",
                [](auto& s) { s.env = {"PORT"}; },
                {"--env", "\"PORT\"", "KEY=VALUE"}},
        BadSpec{"EnvBadKey", [](auto& s) { s.env = {"1X=2"}; }, {"--env", "\"1X=2\""}},
        BadSpec{"EnvEmptyKey", [](auto& s) { s.env = {"=v"}; }, {"--env", "\"=v\""}},
        BadSpec{"NetworkWithoutTarget",
                [](auto& s) {
                  s.networks = {{"", {}}};
                },
                {"--network"}},
        BadSpec{"BadAlias",
                [](auto& s) {
                  s.networks = {{"front", {"bad alias"}}};
                },
                {"--network front", "alias \"bad alias\"", "DNS name"}},
        BadSpec{"AliasEndsWithHyphen",
                [](auto& s) {
                  s.networks = {{"front", {"a-"}}};
                },
                {"alias \"a-\""}},
        BadSpec{"EndpointMode",
                [](auto& s) { s.endpointMode = "rr"; },
                {"--endpoint-mode", "\"rr\"", "vip or dnsrr"}},
        BadSpec{"Constraint",
                [](auto& s) { s.constraints = {"node.zone=a"}; },
                {"--constraint", "node.zone=a"}},
        BadSpec{"RestartCondition",
                [](auto& s) { s.restartPolicy.condition = "always"; },
                {"--restart-condition", "\"always\"", "on-failure"}},
        BadSpec{"RestartDelay",
                [](auto& s) { s.restartPolicy.delayMs = -1; },
                {"--restart-delay -1ms", ">= 0"}},
        BadSpec{"RestartMaxAttempts",
                [](auto& s) { s.restartPolicy.maxAttempts = -2; },
                {"--restart-max-attempts -2"}},
        BadSpec{"RestartWindow",
                [](auto& s) { s.restartPolicy.windowMs = -5; },
                {"--restart-window -5ms"}},
        BadSpec{
            "StopGrace", [](auto& s) { s.stopGracePeriodMs = -10; }, {"--stop-grace-period -10ms"}},
        BadSpec{"HealthWithoutCommand",
                [](auto& s) { s.healthCheck = api::HealthCheck{}; },
                {"--health-cmd"}},
        BadSpec{"HealthInterval",
                [](auto& s) {
                  s.healthCheck = api::HealthCheck{{"true"}, 0, 1, 1, 0};
                },
                {"--health-interval 0ms", "> 0"}},
        BadSpec{"HealthTimeout",
                [](auto& s) {
                  s.healthCheck = api::HealthCheck{{"true"}, 1, -3, 1, 0};
                },
                {"--health-timeout -3ms"}},
        BadSpec{"HealthRetries",
                [](auto& s) {
                  s.healthCheck = api::HealthCheck{{"true"}, 1, 1, 0, 0};
                },
                {"--health-retries 0", "1 or more"}},
        BadSpec{"HealthStartPeriod",
                [](auto& s) {
                  s.healthCheck = api::HealthCheck{{"true"}, 1, 1, 1, -1};
                },
                {"--health-start-period -1ms"}},
        BadSpec{"UpdateParallelism",
                [](auto& s) { s.updateConfig.parallelism = -1; },
                {"--update-parallelism -1"}},
        BadSpec{
            "UpdateDelay", [](auto& s) { s.updateConfig.delayMs = -7; }, {"--update-delay -7ms"}},
        BadSpec{"UpdateOrder",
                [](auto& s) { s.updateConfig.order = "random"; },
                {"--update-order", "\"random\"", "start-first"}},
        BadSpec{"LabelKey", [](auto& s) { s.labels = {{"", "x"}}; }, {"--label key \"\""}}),
    [](const auto& param) { return std::string(param.param.name); });

TEST(ServiceValidationTest, DnsLabels) {
  EXPECT_TRUE(isDnsLabel("web"));
  EXPECT_TRUE(isDnsLabel("a-1"));
  EXPECT_TRUE(isDnsLabel(std::string(63, 'a')));
  EXPECT_FALSE(isDnsLabel(std::string(64, 'a')));
  EXPECT_FALSE(isDnsLabel(""));
  EXPECT_FALSE(isDnsLabel("-a"));
  EXPECT_FALSE(isDnsLabel("a.b"));
}

TEST(ServiceValidationTest, EnvKeys) {
  EXPECT_TRUE(isValidEnvKey("PATH"));
  EXPECT_TRUE(isValidEnvKey("_a1"));
  EXPECT_FALSE(isValidEnvKey(""));
  EXPECT_FALSE(isValidEnvKey("9A"));
  EXPECT_FALSE(isValidEnvKey("A-B"));
}

std::vector<api::Network> someNetworks() {
  api::Network front;
  front.id = "aaaa1";
  front.name = "front";
  api::Network back;
  back.id = "bbbb1";
  back.name = "back";
  api::Network ingress;
  ingress.id = "cccc1";
  ingress.name = "ingress";
  ingress.ingress = true;
  api::Network bridge;
  bridge.id = "dddd1";
  bridge.name = "local";
  bridge.driver = "bridge";
  return {front, back, ingress, bridge};
}

TEST(ServiceValidationTest, NetworksResolveByNameIdOrPrefixInOrder) {
  auto attachments =
      resolveServiceNetworks({{"back", {}}, {"aaaa", {"www", "web2"}}}, someNetworks());
  ASSERT_TRUE(attachments) << attachments.error().message;
  ASSERT_EQ(attachments->size(), 2u);
  EXPECT_EQ((*attachments)[0].networkId, "bbbb1");
  EXPECT_EQ((*attachments)[0].networkName, "back");
  EXPECT_EQ((*attachments)[1].networkName, "front");
  EXPECT_EQ((*attachments)[1].aliases, (std::vector<std::string>{"www", "web2"}));
}

TEST(ServiceValidationTest, NetworkErrorsNameTheNetwork) {
  auto unknown = resolveServiceNetworks({{"nope", {}}}, someNetworks());
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().kind, ErrorKind::NotFound);
  EXPECT_THAT(unknown.error().message, AllOf(HasSubstr("--network"), HasSubstr("nope")));

  auto twice = resolveServiceNetworks({{"front", {}}, {"aaaa1", {}}}, someNetworks());
  ASSERT_FALSE(twice);
  EXPECT_EQ(twice.error().kind, ErrorKind::InvalidArgument);
  EXPECT_THAT(twice.error().message, HasSubstr("--network front is given twice"));

  auto ingress = resolveServiceNetworks({{"ingress", {}}}, someNetworks());
  ASSERT_FALSE(ingress);
  EXPECT_THAT(ingress.error().message, HasSubstr("--network ingress is the routing-mesh"));

  auto bridge = resolveServiceNetworks({{"local", {}}}, someNetworks());
  ASSERT_FALSE(bridge);
  EXPECT_THAT(bridge.error().message, HasSubstr("--network local is a bridge network"));
}

TEST(ServiceValidationTest, LabelKeys) {
  EXPECT_TRUE(validateLabelKey("--label-add", "zone"));
  EXPECT_TRUE(validateLabelKey("--label-add", "com.example/rack-1_a"));
  auto refused = validateLabelKey("--label-add", "zone name");
  ASSERT_FALSE(refused);
  EXPECT_THAT(refused.error().message, HasSubstr("--label-add key \"zone name\""));
  EXPECT_FALSE(validateLabelKey("--label-rm", std::string(129, 'a')));
  EXPECT_FALSE(validateLabelKey("--label-rm", ".hidden"));
}

}  // namespace
}  // namespace overmesh::manager
