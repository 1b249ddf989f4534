#include "manager/published_ports.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace overmesh::manager {
namespace {

using ::testing::HasSubstr;

api::PortConfig portOf(std::int64_t published, std::int64_t target, std::string protocol = "tcp",
                       std::string mode = "ingress") {
  return api::PortConfig{std::move(protocol), target, published, std::move(mode)};
}

api::Service publisher(std::string id, std::string name, std::vector<api::PortConfig> ports) {
  api::Service service;
  service.id = std::move(id);
  service.spec.name = std::move(name);
  service.ports = std::move(ports);
  return service;
}

// --- validatePorts: every refusal names --publish, the value and what is valid ------------

struct BadPortCase {
  std::string label;
  std::vector<api::PortConfig> ports;
  std::string expected;  // a part of the message
};

class BadPortTest : public ::testing::TestWithParam<BadPortCase> {};

TEST_P(BadPortTest, IsRefusedNamingTheFlagTheValueAndWhatIsValid) {
  auto refused = validatePorts(GetParam().ports);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().kind, ErrorKind::InvalidArgument);
  EXPECT_THAT(refused.error().message, HasSubstr("--publish "));
  EXPECT_THAT(refused.error().message, HasSubstr(GetParam().expected));
}

INSTANTIATE_TEST_SUITE_P(
    PublishedPorts, BadPortTest,
    ::testing::Values(
        BadPortCase{
            "Sctp", {portOf(8080, 80, "sctp")}, "protocol sctp is not supported: use tcp or udp"},
        BadPortCase{"UnknownProtocol",
                    {portOf(8080, 80, "icmp")},
                    "protocol \"icmp\" is not valid: use tcp or udp"},
        BadPortCase{"UnknownMode",
                    {portOf(8080, 80, "tcp", "global")},
                    "mode \"global\" is not valid: use ingress"},
        BadPortCase{"TargetZero",
                    {portOf(8080, 0)},
                    "8080:0: target port 0 is not valid: give the task's port, 1-65535"},
        BadPortCase{"TargetTooLarge", {portOf(8080, 65536)}, "target port 65536 is not valid"},
        BadPortCase{"PublishedNegative",
                    {portOf(-1, 80)},
                    "published port -1 is not valid: give 1-65535, or leave it out to get one from "
                    "30000-32767"},
        BadPortCase{"PublishedTooLarge", {portOf(70000, 80)}, "published port 70000 is not valid"},
        BadPortCase{"SamePortTwice",
                    {portOf(8080, 80), portOf(8080, 81)},
                    "--publish 8080:81: published port 8080/tcp is given twice (also by --publish "
                    "8080:80)"},
        BadPortCase{"SamePortTwiceAcrossModes",
                    {portOf(8080, 80), portOf(8080, 81, "tcp", "host")},
                    "is given twice"},
        BadPortCase{"ClusterApiPort",
                    {portOf(2377, 80)},
                    "port 2377/tcp cannot be published: it is the manager's cluster API port"},
        BadPortCase{"NodeApiPort",
                    {portOf(2378, 80, "tcp", "host")},
                    "port 2378/tcp cannot be published: it is every node's node API port"},
        BadPortCase{
            "VxlanPort",
            {portOf(4789, 80, "udp")},
            "--publish 4789:80/udp: port 4789/udp cannot be published: it is the VXLAN port"}),
    [](const ::testing::TestParamInfo<BadPortCase>& paramInfo) { return paramInfo.param.label; });

TEST(PublishedPortsTest, AtMostKMaxPublishedPortsArePublished) {
  std::vector<api::PortConfig> ports;
  for (std::size_t i = 0; i < kMaxPublishedPorts; ++i) {
    ports.push_back(portOf(0, 80));
  }
  EXPECT_TRUE(validatePorts(ports));
  ports.push_back(portOf(0, 80));
  auto refused = validatePorts(ports);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().message,
            "--publish is given 1001 times: a service publishes at most 1000 ports");
}

TEST(PublishedPortsTest, ValidPortsPass) {
  EXPECT_TRUE(validatePorts({}));
  EXPECT_TRUE(validatePorts({portOf(8080, 80), portOf(8080, 80, "udp"), portOf(0, 80),
                             portOf(0, 80), portOf(9000, 9000, "tcp", "host"),
                             portOf(2377, 53, "udp"), portOf(4789, 80, "tcp")}))
      << "one port on tcp and udp, targets alone, and the nodes' ports on the other protocol";
}

TEST(PublishedPortsTest, DescribePortUsesTheShortFormInIngressModeAndTheLongOneOtherwise) {
  EXPECT_EQ(describePort(portOf(8080, 80)), "8080:80");
  EXPECT_EQ(describePort(portOf(53, 53, "udp")), "53:53/udp");
  EXPECT_EQ(describePort(portOf(0, 80)), "80");
  EXPECT_EQ(describePort(portOf(8080, 80, "tcp", "host")),
            "published=8080,target=80,protocol=tcp,mode=host");
  EXPECT_EQ(describePort(portOf(0, 80, "udp", "host")), "target=80,protocol=udp,mode=host");
}

TEST(PublishedPortsTest, PublishesIngressPortOnlyWithAnIngressModePort) {
  EXPECT_FALSE(publishesIngressPort({}));
  EXPECT_FALSE(publishesIngressPort({portOf(8080, 80, "tcp", "host")}));
  EXPECT_TRUE(publishesIngressPort({portOf(8080, 80, "tcp", "host"), portOf(53, 53, "udp")}));
}

// --- checkHostPortsReachable ----------------------------------------------------------------

TEST(PublishedPortsTest, HostModeNeedsANetworkThatIsNotInternal) {
  api::Network internal;
  internal.id = "int";
  internal.internal = true;
  api::Network open;
  open.id = "open";
  std::vector<api::Network> networks = {internal, open};
  std::vector<api::ServiceAttachment> onlyInternal = {{"int", "backend", {}}};
  std::vector<api::ServiceAttachment> both = {{"int", "backend", {}}, {"open", "front", {}}};

  auto refused = checkHostPortsReachable({portOf(8080, 80, "tcp", "host")}, onlyInternal, networks);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().kind, ErrorKind::InvalidArgument);
  EXPECT_THAT(refused.error().message,
              HasSubstr("--publish published=8080,target=80,protocol=tcp,mode=host: a host-mode "
                        "port reaches the task through its node's gateway bridge"));
  EXPECT_TRUE(checkHostPortsReachable({portOf(8080, 80, "tcp", "host")}, both, networks));
  EXPECT_TRUE(checkHostPortsReachable({portOf(8080, 80, "tcp", "host")}, {}, networks))
      << "a service with no networks keeps its gateway bridge";
  EXPECT_TRUE(checkHostPortsReachable({portOf(8080, 80)}, onlyInternal, networks))
      << "ingress mode reaches the task through the ingress network";
}

// --- decidePublishedPorts -------------------------------------------------------------------

TEST(PublishedPortsTest, AnIngressPortConflictsWithTheSamePortOfAnyOtherServiceInAnyMode) {
  std::vector<api::Service> services = {
      publisher("web0000000000000000000001", "web", {portOf(8080, 80)}),
      publisher("db00000000000000000000001", "db", {portOf(5432, 5432, "tcp", "host")})};

  auto ingressTaken = decidePublishedPorts({portOf(8080, 81)}, {}, "new", services);
  ASSERT_FALSE(ingressTaken.has_value());
  EXPECT_EQ(ingressTaken.error().kind, ErrorKind::Conflict);
  EXPECT_THAT(ingressTaken.error().message,
              HasSubstr("--publish 8080:81: port '8080' is already in use by service 'web' "
                        "(web000000000) as an ingress port"));

  auto hostTaken = decidePublishedPorts({portOf(5432, 5432)}, {}, "new", services);
  ASSERT_FALSE(hostTaken.has_value());
  EXPECT_THAT(hostTaken.error().message,
              HasSubstr("port '5432' is already in use by service 'db' (db0000000000) as a host "
                        "port; an ingress port is opened on every node"));

  EXPECT_TRUE(decidePublishedPorts({portOf(8080, 80, "udp")}, {}, "new", services))
      << "the same number on the other protocol is another port";
}

TEST(PublishedPortsTest, AHostPortConflictsWithIngressAndWithHostPortsOfOtherServices) {
  std::vector<api::Service> services = {
      publisher("web0000000000000000000001", "web", {portOf(8080, 80)}),
      publisher("db00000000000000000000001", "db", {portOf(5432, 5432, "tcp", "host")})};

  auto onIngress = decidePublishedPorts({portOf(8080, 80, "tcp", "host")}, {}, "new", services);
  ASSERT_FALSE(onIngress.has_value());
  EXPECT_THAT(onIngress.error().message, HasSubstr("as an ingress port"));

  auto onHost = decidePublishedPorts({portOf(5432, 5432, "tcp", "host")}, {}, "new", services);
  ASSERT_FALSE(onHost.has_value());
  EXPECT_EQ(onHost.error().kind, ErrorKind::Conflict);
  EXPECT_THAT(onHost.error().message,
              HasSubstr("overmesh opens a host port by DNAT on the node, so two services cannot "
                        "share one"));
}

TEST(PublishedPortsTest, AServicesOwnPortsNeverConflictWithThemselves) {
  std::vector<api::Service> services = {
      publisher("web0000000000000000000001", "web", {portOf(8080, 80), portOf(30000, 81)})};
  auto decided = decidePublishedPorts({portOf(8080, 82), portOf(0, 81)}, services[0].ports,
                                      "web0000000000000000000001", services);
  ASSERT_TRUE(decided) << decided.error().message;
  EXPECT_EQ(*decided, (std::vector<api::PortConfig>{portOf(8080, 82), portOf(30000, 81)}));
}

TEST(PublishedPortsTest, PortZeroGetsTheLowestFreeDynamicPortOfItsProtocol) {
  std::vector<api::Service> services = {
      publisher("a", "a", {portOf(30000, 80), portOf(30002, 80, "tcp", "host")}),
      publisher("b", "b", {portOf(30001, 53, "udp")})};
  auto decided = decidePublishedPorts(
      {portOf(0, 80), portOf(30001, 81), portOf(0, 82), portOf(0, 53, "udp")}, {}, "new", services);
  ASSERT_TRUE(decided) << decided.error().message;
  EXPECT_EQ(*decided, (std::vector<api::PortConfig>{portOf(30003, 80), portOf(30001, 81),
                                                    portOf(30004, 82), portOf(30000, 53, "udp")}))
      << "skips other services' ports in any mode and this spec's own explicit ports";
}

TEST(PublishedPortsTest, AFullDynamicRangeIsFailedPrecondition) {
  std::vector<api::PortConfig> all;
  for (std::int64_t port = kFirstDynamicPort; port <= kLastDynamicPort; ++port) {
    all.push_back(portOf(port, 80));
  }
  std::vector<api::Service> services = {publisher("a", "a", all)};
  auto refused = decidePublishedPorts({portOf(0, 80)}, {}, "new", services);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().kind, ErrorKind::FailedPrecondition);
  EXPECT_THAT(refused.error().message,
              HasSubstr("--publish 80: every port of 30000-32767/tcp is published already"));
  EXPECT_TRUE(decidePublishedPorts({portOf(0, 80, "udp")}, {}, "new", services));
}

TEST(PublishedPortsTest, OnUpdateAPortOfZeroKeepsThePortItHadForTheSameTargetProtocolAndMode) {
  std::vector<api::PortConfig> previous = {portOf(30005, 80), portOf(30006, 80, "udp"),
                                           portOf(30007, 90, "tcp", "host")};
  std::vector<api::Service> services = {publisher("web", "web", previous)};
  auto decided = decidePublishedPorts({portOf(0, 90, "tcp", "host"), portOf(0, 80, "udp"),
                                       portOf(0, 80), portOf(0, 80), portOf(0, 90)},
                                      previous, "web", services);
  ASSERT_TRUE(decided) << decided.error().message;
  EXPECT_EQ(*decided, (std::vector<api::PortConfig>{portOf(30007, 90, "tcp", "host"),
                                                    portOf(30006, 80, "udp"), portOf(30005, 80),
                                                    portOf(30000, 80), portOf(30001, 90)}))
      << "each previous port is kept once; a changed mode is another port";
}

TEST(PublishedPortsTest, AKeptPortGivesWayToAnExplicitPortOfTheSameSpec) {
  std::vector<api::PortConfig> previous = {portOf(30000, 80)};
  auto decided = decidePublishedPorts({portOf(0, 80), portOf(30000, 81)}, previous, "web",
                                      {publisher("web", "web", previous)});
  ASSERT_TRUE(decided) << decided.error().message;
  EXPECT_EQ(*decided, (std::vector<api::PortConfig>{portOf(30001, 80), portOf(30000, 81)}));
}

}  // namespace
}  // namespace overmesh::manager
