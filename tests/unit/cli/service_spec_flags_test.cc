#include "cli/service_spec_flags.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "cli/node_update.h"
#include "support/scratch.h"
#include "support/service_fixtures.h"

namespace overmesh::cli {
namespace {

using overmesh::testing::must;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

ServiceCreateFlags minimalCreate() {
  ServiceCreateFlags flags;
  flags.name = "web";
  flags.command = {"httpd", "-f"};
  return flags;
}

TEST(ServiceCreateFlagsTest, DefaultsAreDockers) {
  auto spec = must(specFromCreateFlags(minimalCreate()));

  EXPECT_EQ(spec.name, "web");
  EXPECT_EQ(spec.mode, "replicated");
  EXPECT_EQ(spec.replicas, 1);
  EXPECT_EQ(spec.endpointMode, "vip");
  EXPECT_EQ(spec.restartPolicy.condition, "any");
  EXPECT_EQ(spec.restartPolicy.delayMs, 5000);
  EXPECT_EQ(spec.restartPolicy.maxAttempts, 0);
  EXPECT_EQ(spec.stopGracePeriodMs, 10000);
  EXPECT_FALSE(spec.healthCheck.has_value());
  EXPECT_EQ(spec.updateConfig.parallelism, 1);
  EXPECT_EQ(spec.updateConfig.order, "stop-first");
  EXPECT_THAT(spec.command, ElementsAre("httpd", "-f"));
}

TEST(ServiceCreateFlagsTest, EveryFlagReachesTheSpec) {
  ServiceCreateFlags flags = minimalCreate();
  flags.replicas = "3";
  flags.mode = "replicated";
  flags.networks = {"front,alias=www", "name=back,alias=api,alias=rest"};
  flags.env = {"A=1", "B=x=y", "A=2"};
  flags.constraints = {"node.role==worker"};
  flags.labels = {"tier=web", "bare"};
  flags.spec.endpointMode = "dnsrr";
  flags.spec.restartCondition = "on-failure";
  flags.spec.restartDelay = "1m30s";
  flags.spec.restartMaxAttempts = "4";
  flags.spec.restartWindow = "2m";
  flags.spec.stopGracePeriod = "3s";
  flags.spec.healthCmd = "wget -q -O- http://localhost/";
  flags.spec.healthInterval = "5s";
  flags.spec.healthTimeout = "2s";
  flags.spec.healthRetries = "2";
  flags.spec.healthStartPeriod = "10s";
  flags.spec.updateParallelism = "2";
  flags.spec.updateDelay = "500ms";
  flags.spec.updateOrder = "start-first";

  auto spec = must(specFromCreateFlags(flags));

  EXPECT_EQ(spec.replicas, 3);
  ASSERT_EQ(spec.networks.size(), 2U);
  EXPECT_EQ(spec.networks[0].target, "front");
  EXPECT_THAT(spec.networks[0].aliases, ElementsAre("www"));
  EXPECT_EQ(spec.networks[1].target, "back");
  EXPECT_THAT(spec.networks[1].aliases, ElementsAre("api", "rest"));
  EXPECT_THAT(spec.env, ElementsAre("A=2", "B=x=y"));  // a repeated key: the last wins
  EXPECT_THAT(spec.constraints, ElementsAre("node.role==worker"));
  EXPECT_THAT(spec.labels, ElementsAre(Pair("bare", ""), Pair("tier", "web")));
  EXPECT_EQ(spec.endpointMode, "dnsrr");
  EXPECT_EQ(spec.restartPolicy.condition, "on-failure");
  EXPECT_EQ(spec.restartPolicy.delayMs, 90'000);
  EXPECT_EQ(spec.restartPolicy.maxAttempts, 4);
  EXPECT_EQ(spec.restartPolicy.windowMs, 120'000);
  EXPECT_EQ(spec.stopGracePeriodMs, 3000);
  ASSERT_TRUE(spec.healthCheck.has_value());
  EXPECT_THAT(spec.healthCheck->command,
              ElementsAre("/bin/sh", "-c", "wget -q -O- http://localhost/"));
  EXPECT_EQ(spec.healthCheck->intervalMs, 5000);
  EXPECT_EQ(spec.healthCheck->timeoutMs, 2000);
  EXPECT_EQ(spec.healthCheck->retries, 2);
  EXPECT_EQ(spec.healthCheck->startPeriodMs, 10'000);
  EXPECT_EQ(spec.updateConfig.parallelism, 2);
  EXPECT_EQ(spec.updateConfig.delayMs, 500);
  EXPECT_EQ(spec.updateConfig.order, "start-first");
}

TEST(ServiceCreateFlagsTest, HealthCmdAloneGetsDockersHealthDefaults) {
  ServiceCreateFlags flags = minimalCreate();
  flags.spec.healthCmd = "true";

  auto spec = must(specFromCreateFlags(flags));

  ASSERT_TRUE(spec.healthCheck.has_value());
  EXPECT_EQ(spec.healthCheck->intervalMs, 30'000);
  EXPECT_EQ(spec.healthCheck->timeoutMs, 30'000);
  EXPECT_EQ(spec.healthCheck->retries, 3);
  EXPECT_EQ(spec.healthCheck->startPeriodMs, 0);
}

TEST(ServiceCreateFlagsTest, GlobalModeHasNoReplicas) {
  ServiceCreateFlags flags = minimalCreate();
  flags.mode = "global";

  auto spec = must(specFromCreateFlags(flags));

  EXPECT_EQ(spec.mode, "global");
  EXPECT_EQ(spec.replicas, 0);
}

// A bad create flag: the error names the flag, the value and what would be valid.
struct BadCreateCase {
  std::string label;
  std::function<void(ServiceCreateFlags&)> change;
  std::vector<std::string> expected;  // substrings of the message
};

void PrintTo(const BadCreateCase& c, std::ostream* os) { *os << c.label; }

class BadCreateFlagTest : public ::testing::TestWithParam<BadCreateCase> {};

TEST_P(BadCreateFlagTest, IsInvalidArgumentNamingTheFlagAndValue) {
  ServiceCreateFlags flags = minimalCreate();
  GetParam().change(flags);

  auto spec = specFromCreateFlags(flags);

  ASSERT_FALSE(spec.has_value());
  EXPECT_EQ(spec.error().kind, ErrorKind::InvalidArgument);
  for (const auto& expected : GetParam().expected) {
    EXPECT_THAT(spec.error().message, HasSubstr(expected));
  }
}

INSTANTIATE_TEST_SUITE_P(
    Flags, BadCreateFlagTest,
    ::testing::Values(
        BadCreateCase{"ReplicasWithGlobal",
                      [](auto& f) {
                        f.mode = "global";
                        f.replicas = "3";
                      },
                      {"--replicas", "\"3\"", "--mode global"}},
        BadCreateCase{"ReplicasNotANumber",
                      [](auto& f) { f.replicas = "three"; },
                      {"--replicas", "\"three\"", "whole number from 0 to 100000"}},
        BadCreateCase{
            "ReplicasNegative", [](auto& f) { f.replicas = "-1"; }, {"--replicas", "\"-1\""}},
        BadCreateCase{"ReplicasTooMany",
                      [](auto& f) { f.replicas = "100001"; },
                      {"--replicas", "\"100001\""}},
        BadCreateCase{
            "ReplicasTrailingText", [](auto& f) { f.replicas = "3x"; }, {"--replicas", "\"3x\""}},
        BadCreateCase{"UnknownMode",
                      [](auto& f) { f.mode = "replicated-job"; },
                      {"--mode", "\"replicated-job\"", "replicated, global"}},
        BadCreateCase{"UnknownEndpointMode",
                      [](auto& f) { f.spec.endpointMode = "ipvs"; },
                      {"--endpoint-mode", "\"ipvs\"", "vip, dnsrr"}},
        BadCreateCase{"UnknownRestartCondition",
                      [](auto& f) { f.spec.restartCondition = "always"; },
                      {"--restart-condition", "\"always\"", "any, on-failure, none"}},
        BadCreateCase{"BadRestartDelay",
                      [](auto& f) { f.spec.restartDelay = "5"; },
                      {"--restart-delay", "\"5\"", "e.g. 500ms"}},
        BadCreateCase{"BadRestartMaxAttempts",
                      [](auto& f) { f.spec.restartMaxAttempts = "-2"; },
                      {"--restart-max-attempts", "\"-2\""}},
        BadCreateCase{"BadRestartWindow",
                      [](auto& f) { f.spec.restartWindow = "1d"; },
                      {"--restart-window", "\"1d\""}},
        BadCreateCase{"BadStopGrace",
                      [](auto& f) { f.spec.stopGracePeriod = "soon"; },
                      {"--stop-grace-period", "\"soon\""}},
        BadCreateCase{"HealthIntervalWithoutCmd",
                      [](auto& f) { f.spec.healthInterval = "5s"; },
                      {"--health-interval", "--health-cmd"}},
        BadCreateCase{
            "EmptyHealthCmd", [](auto& f) { f.spec.healthCmd = ""; }, {"--health-cmd", "\"\""}},
        BadCreateCase{"ZeroHealthInterval",
                      [](auto& f) {
                        f.spec.healthCmd = "true";
                        f.spec.healthInterval = "0s";
                      },
                      {"--health-interval", "\"0s\"", "at least 1ms"}},
        BadCreateCase{"BadHealthTimeout",
                      [](auto& f) {
                        f.spec.healthCmd = "true";
                        f.spec.healthTimeout = "x";
                      },
                      {"--health-timeout", "\"x\""}},
        BadCreateCase{"ZeroHealthRetries",
                      [](auto& f) {
                        f.spec.healthCmd = "true";
                        f.spec.healthRetries = "0";
                      },
                      {"--health-retries", "\"0\"", "from 1 to"}},
        BadCreateCase{"BadHealthStartPeriod",
                      [](auto& f) {
                        f.spec.healthCmd = "true";
                        f.spec.healthStartPeriod = "-1s";
                      },
                      {"--health-start-period", "\"-1s\""}},
        BadCreateCase{"BadUpdateParallelism",
                      [](auto& f) { f.spec.updateParallelism = "all"; },
                      {"--update-parallelism", "\"all\""}},
        BadCreateCase{"BadUpdateDelay",
                      [](auto& f) { f.spec.updateDelay = "1.5x"; },
                      {"--update-delay", "\"1.5x\""}},
        BadCreateCase{"UnknownUpdateOrder",
                      [](auto& f) { f.spec.updateOrder = "random"; },
                      {"--update-order", "\"random\"", "stop-first, start-first"}},
        BadCreateCase{"EnvWithoutEquals",
                      [](auto& f) { f.env = {"PATH"}; },
                      {"--env", "\"PATH\"", "KEY=VALUE"}},
        BadCreateCase{"EnvWithoutKey", [](auto& f) { f.env = {"=1"}; }, {"--env", "\"=1\""}},
        BadCreateCase{"LabelWithoutKey", [](auto& f) { f.labels = {"=x"}; }, {"--label", "\"=x\""}},
        BadCreateCase{"NetworkUnknownKey",
                      [](auto& f) { f.networks = {"front,ip=1.2.3.4"}; },
                      {"--network", "\"front,ip=1.2.3.4\"", "unknown key \"ip\""}},
        BadCreateCase{"NetworkEmptyAlias",
                      [](auto& f) { f.networks = {"front,alias="}; },
                      {"--network", "\"front,alias=\"", "alias is empty"}},
        BadCreateCase{"NetworkWithoutName",
                      [](auto& f) { f.networks = {"alias=www"}; },
                      {"--network", "\"alias=www\"", "no network named"}},
        BadCreateCase{"NetworkNamedTwice",
                      [](auto& f) { f.networks = {"front,name=back"}; },
                      {"--network", "\"front,name=back\"", "twice"}},
        BadCreateCase{"NetworkBareSecondPart",
                      [](auto& f) { f.networks = {"front,back"}; },
                      {"--network", "\"front,back\""}},
        BadCreateCase{"EmptyName", [](auto& f) { f.name = ""; }, {"--name", "\"\""}},
        BadCreateCase{"NoCommand",
                      [](auto& f) { f.command.clear(); },
                      {"no image and no command", "--image IMAGE", "--"}},
        BadCreateCase{"BadImage",
                      [](auto& f) { f.container.image = "Web:1"; },
                      {"--image", "Web:1", "lowercase"}},
        BadCreateCase{"WorkdirWithoutImage",
                      [](auto& f) { f.container.workdir = "/srv"; },
                      {"--workdir needs --image"}},
        BadCreateCase{"MountWithoutTarget",
                      [](auto& f) {
                        f.container.image = "web";
                        f.container.mounts = {"type=volume,source=data"};
                      },
                      {"--mount", "target"}}),
    [](const ::testing::TestParamInfo<BadCreateCase>& paramInfo) { return paramInfo.param.label; });

api::Service existingService() {
  api::Service service = overmesh::testing::replicatedService("web", 3, 4);
  service.spec.env = {"A=1", "B=2"};
  service.spec.constraints = {"node.role==worker", "node.labels.zone==a"};
  service.spec.networks = {{"front", {"www"}}, {"netid-back", {}}};
  service.attachments = {{"frontid", "front", {"www"}}, {"netid-back", "back", {}}};
  service.spec.labels = {{"tier", "web"}};
  service.spec.healthCheck = api::HealthCheck{{"/bin/sh", "-c", "true"}, 5000, 1000, 2, 0};
  return service;
}

TEST(ServiceUpdateFlagsTest, NoFlagsKeepTheSpec) {
  api::Service service = existingService();

  auto spec = must(applyUpdateFlags(service, {}));

  EXPECT_EQ(nlohmann::json(spec), nlohmann::json(service.spec));
}

TEST(ServiceUpdateFlagsTest, EnvAddOverridesAKeyInPlaceAndAppendsNewOnes) {
  ServiceUpdateFlags flags;
  flags.envAdd = {"A=10", "C=3"};

  auto spec = must(applyUpdateFlags(existingService(), flags));

  EXPECT_THAT(spec.env, ElementsAre("A=10", "B=2", "C=3"));
}

TEST(ServiceUpdateFlagsTest, EnvRmRemovesByKeyBeforeAdding) {
  ServiceUpdateFlags flags;
  flags.envRm = {"A"};
  flags.envAdd = {"A=new"};

  auto spec = must(applyUpdateFlags(existingService(), flags));

  EXPECT_THAT(spec.env, ElementsAre("B=2", "A=new"));
}

TEST(ServiceUpdateFlagsTest, EnvRmOfAMissingKeyNamesTheKeysThereAre) {
  ServiceUpdateFlags flags;
  flags.envRm = {"Z"};

  auto spec = applyUpdateFlags(existingService(), flags);

  ASSERT_FALSE(spec.has_value());
  EXPECT_THAT(spec.error().message,
              AllOf(HasSubstr("--env-rm"), HasSubstr("\"Z\""), HasSubstr("A, B")));
}

TEST(ServiceUpdateFlagsTest, NetworkAddWithAliases) {
  ServiceUpdateFlags flags;
  flags.networkAdd = {"name=extra,alias=e1,alias=e2"};

  auto spec = must(applyUpdateFlags(existingService(), flags));

  ASSERT_EQ(spec.networks.size(), 3U);
  EXPECT_EQ(spec.networks[2].target, "extra");
  EXPECT_THAT(spec.networks[2].aliases, ElementsAre("e1", "e2"));
}

TEST(ServiceUpdateFlagsTest, NetworkAddOfANetworkTheServiceIsOnIsRefused) {
  ServiceUpdateFlags flags;
  flags.networkAdd = {"back"};  // the spec names it by ID; its attachment by name

  auto spec = applyUpdateFlags(existingService(), flags);

  ASSERT_FALSE(spec.has_value());
  EXPECT_THAT(spec.error().message,
              AllOf(HasSubstr("--network-add"), HasSubstr("\"back\""), HasSubstr("already")));
}

TEST(ServiceUpdateFlagsTest, NetworkRmByTargetOrResolvedName) {
  ServiceUpdateFlags flags;
  flags.networkRm = {"back"};

  auto spec = must(applyUpdateFlags(existingService(), flags));

  ASSERT_EQ(spec.networks.size(), 1U);
  EXPECT_EQ(spec.networks[0].target, "front");
}

TEST(ServiceUpdateFlagsTest, NetworkRmOfAnotherNetworkNamesTheServicesNetworks) {
  ServiceUpdateFlags flags;
  flags.networkRm = {"other"};

  auto spec = applyUpdateFlags(existingService(), flags);

  ASSERT_FALSE(spec.has_value());
  EXPECT_THAT(spec.error().message, AllOf(HasSubstr("--network-rm"), HasSubstr("\"other\""),
                                          HasSubstr("front, netid-back")));
}

TEST(ServiceUpdateFlagsTest, ConstraintRmMatchesIgnoringSpacesAndAddSkipsDuplicates) {
  ServiceUpdateFlags flags;
  flags.constraintRm = {"node.labels.zone == a"};
  flags.constraintAdd = {"node.role==worker", "node.hostname!=h3"};

  auto spec = must(applyUpdateFlags(existingService(), flags));

  EXPECT_THAT(spec.constraints, ElementsAre("node.role==worker", "node.hostname!=h3"));
}

TEST(ServiceUpdateFlagsTest, ConstraintRmOfAnUnknownExpressionIsRefused) {
  ServiceUpdateFlags flags;
  flags.constraintRm = {"node.role==manager"};

  auto spec = applyUpdateFlags(existingService(), flags);

  ASSERT_FALSE(spec.has_value());
  EXPECT_THAT(spec.error().message,
              AllOf(HasSubstr("--constraint-rm"), HasSubstr("\"node.role==manager\""),
                    HasSubstr("node.role==worker, node.labels.zone==a")));
}

TEST(ServiceUpdateFlagsTest, ReplicasAndCommandAndLabels) {
  ServiceUpdateFlags flags;
  flags.replicas = "5";
  flags.command = {"sleep", "1000"};
  flags.labelRm = {"tier"};
  flags.labelAdd = {"owner=ops"};

  auto spec = must(applyUpdateFlags(existingService(), flags));

  EXPECT_EQ(spec.replicas, 5);
  EXPECT_THAT(spec.command, ElementsAre("sleep", "1000"));
  EXPECT_THAT(spec.labels, ElementsAre(Pair("owner", "ops")));
}

TEST(ServiceUpdateFlagsTest, ReplicasOfAGlobalServiceIsRefused) {
  ServiceUpdateFlags flags;
  flags.replicas = "2";

  auto spec = applyUpdateFlags(overmesh::testing::globalService("agent"), flags);

  ASSERT_FALSE(spec.has_value());
  EXPECT_THAT(spec.error().message,
              AllOf(HasSubstr("--replicas"), HasSubstr("\"2\""), HasSubstr("global")));
}

TEST(ServiceUpdateFlagsTest, HealthOptionsChangeTheExistingCheck) {
  ServiceUpdateFlags flags;
  flags.spec.healthRetries = "7";

  auto spec = must(applyUpdateFlags(existingService(), flags));

  ASSERT_TRUE(spec.healthCheck.has_value());
  EXPECT_EQ(spec.healthCheck->retries, 7);
  EXPECT_EQ(spec.healthCheck->intervalMs, 5000);  // kept
  EXPECT_THAT(spec.healthCheck->command, ElementsAre("/bin/sh", "-c", "true"));
}

TEST(ServiceUpdateFlagsTest, NoHealthcheckRemovesTheCheck) {
  ServiceUpdateFlags flags;
  flags.noHealthcheck = true;

  auto spec = must(applyUpdateFlags(existingService(), flags));

  EXPECT_FALSE(spec.healthCheck.has_value());
}

TEST(ServiceUpdateFlagsTest, NoHealthcheckWithAHealthOptionIsRefused) {
  ServiceUpdateFlags flags;
  flags.noHealthcheck = true;
  flags.spec.healthInterval = "3s";

  auto spec = applyUpdateFlags(existingService(), flags);

  ASSERT_FALSE(spec.has_value());
  EXPECT_THAT(spec.error().message,
              AllOf(HasSubstr("--no-healthcheck"), HasSubstr("--health-interval")));
}

TEST(ServiceUpdateFlagsTest, HealthOptionWithoutACheckToChangeIsRefused) {
  ServiceUpdateFlags flags;
  flags.spec.healthTimeout = "3s";

  auto spec = applyUpdateFlags(overmesh::testing::replicatedService("web", 1), flags);

  ASSERT_FALSE(spec.has_value());
  EXPECT_THAT(spec.error().message,
              AllOf(HasSubstr("--health-timeout"), HasSubstr("--health-cmd")));
}

TEST(ServiceUpdateFlagsTest, SharedFlagsApplyAsInCreate) {
  ServiceUpdateFlags flags;
  flags.spec.endpointMode = "dnsrr";
  flags.spec.restartCondition = "none";
  flags.spec.updateOrder = "start-first";
  flags.spec.stopGracePeriod = "1m";

  auto spec = must(applyUpdateFlags(existingService(), flags));

  EXPECT_EQ(spec.endpointMode, "dnsrr");
  EXPECT_EQ(spec.restartPolicy.condition, "none");
  EXPECT_EQ(spec.updateConfig.order, "start-first");
  EXPECT_EQ(spec.stopGracePeriodMs, 60'000);
}

TEST(ServiceUpdateFlagsTest, ABadFlagAfterGoodOnesFailsWhole) {
  ServiceUpdateFlags flags;
  flags.envAdd = {"C=3"};
  flags.spec.updateDelay = "soon";

  auto spec = applyUpdateFlags(existingService(), flags);

  ASSERT_FALSE(spec.has_value());
  EXPECT_THAT(spec.error().message, AllOf(HasSubstr("--update-delay"), HasSubstr("\"soon\"")));
}

TEST(ScaleArgumentTest, ParsesServiceAndReplicas) {
  auto parsed = must(parseScaleArgument("web=5"));

  EXPECT_EQ(parsed.first, "web");
  EXPECT_EQ(parsed.second, 5);
}

TEST(ScaleArgumentTest, RefusesAnArgumentWithoutReplicas) {
  auto parsed = parseScaleArgument("web");

  ASSERT_FALSE(parsed.has_value());
  EXPECT_THAT(parsed.error().message, AllOf(HasSubstr("\"web\""), HasSubstr("SERVICE=REPLICAS")));
}

TEST(ScaleArgumentTest, RefusesABadCountNamingTheService) {
  auto parsed = parseScaleArgument("web=lots");

  ASSERT_FALSE(parsed.has_value());
  EXPECT_THAT(parsed.error().message, AllOf(HasSubstr("web"), HasSubstr("\"lots\"")));
}

TEST(NodeUpdateBodyTest, CarriesAddedAndRemovedLabels) {
  auto body = must(nodeUpdateBody({"zone=a", "ssd=yes"}, {"old"}));

  EXPECT_EQ(body,
            (nlohmann::json{{"labelAdd", {{"ssd", "yes"}, {"zone", "a"}}}, {"labelRm", {"old"}}}));
}

TEST(NodeUpdateBodyTest, RefusesNothingToDo) {
  auto body = nodeUpdateBody({}, {});

  ASSERT_FALSE(body.has_value());
  EXPECT_THAT(body.error().message, AllOf(HasSubstr("--label-add"), HasSubstr("--label-rm")));
}

TEST(NodeUpdateBodyTest, RefusesALabelWithoutKey) {
  auto body = nodeUpdateBody({"=a"}, {});

  ASSERT_FALSE(body.has_value());
  EXPECT_THAT(body.error().message, AllOf(HasSubstr("--label-add"), HasSubstr("\"=a\"")));
}

TEST(NodeUpdateBodyTest, RefusesAKeyAddedAndRemoved) {
  auto body = nodeUpdateBody({"zone=a"}, {"zone"});

  ASSERT_FALSE(body.has_value());
  EXPECT_THAT(body.error().message, AllOf(HasSubstr("--label-rm"), HasSubstr("\"zone\"")));
}

}  // namespace
}  // namespace overmesh::cli
