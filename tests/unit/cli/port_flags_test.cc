#include "cli/port_flags.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <vector>

#include "cli/service_spec_flags.h"
#include "support/scratch.h"
#include "support/service_fixtures.h"

namespace overmesh::api {
// Shows a port as the long form in gtest's messages.
void PrintTo(const PortConfig& port, std::ostream* os) {
  *os << overmesh::cli::publishSpecText(port) << " (published " << port.publishedPort << ")";
}
}  // namespace overmesh::api

namespace overmesh::cli {
namespace {

using overmesh::testing::must;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

api::PortConfig port(std::int64_t published, std::int64_t target, std::string protocol = "tcp",
                     std::string mode = "ingress") {
  return api::PortConfig{std::move(protocol), target, published, std::move(mode)};
}

// ---- the short form ----

TEST(PublishFlagTest, ShortFormPublishedToTargetIsTcpIngress) {
  EXPECT_THAT(must(parsePublishFlag("--publish", "8080:80")), ElementsAre(port(8080, 80)));
}

TEST(PublishFlagTest, ShortFormProtocolAfterASlashInAnyCase) {
  EXPECT_THAT(must(parsePublishFlag("--publish", "8080:80/udp")),
              ElementsAre(port(8080, 80, "udp")));
  EXPECT_THAT(must(parsePublishFlag("--publish", "53:53/UDP")), ElementsAre(port(53, 53, "udp")));
  // Docker reads an empty protocol as tcp.
  EXPECT_THAT(must(parsePublishFlag("--publish", "8080:80/")), ElementsAre(port(8080, 80)));
}

TEST(PublishFlagTest, ATargetAloneLeavesThePublishedPortToTheManager) {
  EXPECT_THAT(must(parsePublishFlag("--publish", "80")), ElementsAre(port(0, 80)));
  EXPECT_THAT(must(parsePublishFlag("--publish", ":80")), ElementsAre(port(0, 80)));
  EXPECT_THAT(must(parsePublishFlag("--publish", "0:80")), ElementsAre(port(0, 80)));
}

TEST(PublishFlagTest, RangesOfOneSizePairPortByPort) {
  EXPECT_THAT(must(parsePublishFlag("--publish", "8080-8082:80-82/udp")),
              ElementsAre(port(8080, 80, "udp"), port(8081, 81, "udp"), port(8082, 82, "udp")));
}

TEST(PublishFlagTest, APublishedRangeToOneTargetPublishesEachToIt) {
  EXPECT_THAT(must(parsePublishFlag("--publish", "8080-8081:80")),
              ElementsAre(port(8080, 80), port(8081, 80)));
}

TEST(PublishFlagTest, TheLargestRangeIsAccepted) {
  auto ports = must(parsePublishFlag("--publish", "30000-34095:30000-34095"));

  ASSERT_EQ(ports.size(), 4096U);
  EXPECT_EQ(ports.back(), port(34095, 34095));
}

TEST(PublishFlagTest, ATargetRangeAloneAllocatesEachPublishedPort) {
  EXPECT_THAT(must(parsePublishFlag("--publish", "80-81")), ElementsAre(port(0, 80), port(0, 81)));
}

// ---- the long form ----

TEST(PublishFlagTest, LongFormTakesEveryKeyInAnyOrder) {
  EXPECT_THAT(
      must(parsePublishFlag("--publish", "published=8080,target=80,protocol=udp,mode=host")),
      ElementsAre(port(8080, 80, "udp", "host")));
  EXPECT_THAT(
      must(parsePublishFlag("--publish", "mode=host,protocol=udp,target=80,published=8080")),
      ElementsAre(port(8080, 80, "udp", "host")));
}

TEST(PublishFlagTest, LongFormDefaultsAreTcpIngressAndAnAllocatedPort) {
  EXPECT_THAT(must(parsePublishFlag("--publish", "target=80")), ElementsAre(port(0, 80)));
  EXPECT_THAT(must(parsePublishFlag("--publish", "target=80,mode=host")),
              ElementsAre(port(0, 80, "tcp", "host")));
}

// ---- every error names the flag, the value, why, and the valid forms ----

struct BadPublish {
  std::string value;
  std::string why;
};

void PrintTo(const BadPublish& c, std::ostream* os) { *os << '"' << c.value << '"'; }

class BadPublishTest : public ::testing::TestWithParam<BadPublish> {};

TEST_P(BadPublishTest, IsRefusedNamingFlagValueAndReason) {
  auto ports = parsePublishFlag("-p", GetParam().value);

  ASSERT_FALSE(ports.has_value());
  EXPECT_EQ(ports.error().kind, ErrorKind::InvalidArgument);
  EXPECT_THAT(ports.error().message,
              AllOf(HasSubstr("-p \"" + GetParam().value + "\" is not valid: "),
                    HasSubstr(GetParam().why), HasSubstr("published=P,target=T")));
}

INSTANTIATE_TEST_SUITE_P(
    Values, BadPublishTest,
    ::testing::Values(
        BadPublish{"8080:http", "target port \"http\" is not a number from 1 to 65535"},
        BadPublish{"http:80", "published port \"http\" is not a number from 0 to 65535"},
        BadPublish{"8080:0", "target port \"0\" is not a number from 1 to 65535"},
        BadPublish{"70000:80", "published port \"70000\" is not a number from 0 to 65535"},
        BadPublish{"8080:-80", "its start \"\" is not a number"},
        BadPublish{"8080:+80", "target port \"+80\" is not a number"},
        BadPublish{"8080:80/sctp", "protocol \"sctp\" is not supported: use tcp or udp"},
        BadPublish{"8080:80/icmp", "protocol \"icmp\" is not supported"},
        BadPublish{"127.0.0.1:8080:80", "a host IP (\"127.0.0.1\") is not supported"},
        BadPublish{"[::1]:8080:80", "a host IP (\"[::1]\") is not supported"},
        BadPublish{"8080:", "no target port"}, BadPublish{"", "no target port"},
        BadPublish{"8080:/udp", "no target port"},
        BadPublish{"8081-8080:80", "published port range \"8081-8080\" ends before it starts"},
        BadPublish{"8080-:80", "its end \"\" is not a number from 1 to 65535"},
        BadPublish{"0-1:80-81", "its start \"0\" is not a number from 1 to 65535"},
        BadPublish{"80-81-82", "its end \"81-82\" is not a number"},
        BadPublish{"8080-8082:80-81",
                   "the published range 8080-8082 and the target range 80-81 "
                   "differ in size"},
        BadPublish{"8080:80-81", "differ in size"},
        BadPublish{"1-5000", "it publishes 5000 ports; give at most 4096 in one value"},
        BadPublish{"1-4097:80", "it publishes 4097 ports"},
        BadPublish{"published=8080", "target is missing"},
        BadPublish{"published=8080,target=", "target port \"\" is not a number"},
        BadPublish{"target=0", "target port \"0\" is not a number from 1 to 65535"},
        BadPublish{"target=80,published=x", "published port \"x\" is not a number"},
        BadPublish{"target=80,published=65536", "published port \"65536\""},
        BadPublish{"target=80,src=8080",
                   "unknown key \"src\" (known: published, target, protocol, mode)"},
        BadPublish{"target=80,target=81", "target is given twice"},
        BadPublish{"target=80,protocol=sctp", "protocol \"sctp\" is not supported"},
        BadPublish{"target=80,protocol=UDP", "protocol \"UDP\" is not supported"},
        BadPublish{"target=80,mode=global", "mode \"global\" is not valid: use ingress or host"},
        BadPublish{"target=80,", "\"\" is not key=value"},
        BadPublish{"target=80,8080", "\"8080\" is not key=value"},
        BadPublish{"=80", "\"=80\" is not key=value"}));

TEST(PublishSpecTextTest, WritesTheLongFormWithoutAnAllocatedPublishedPort) {
  EXPECT_EQ(publishSpecText(port(8080, 80, "udp", "host")),
            "published=8080,target=80,protocol=udp,mode=host");
  EXPECT_EQ(publishSpecText(port(0, 80)), "target=80,protocol=tcp,mode=ingress");
}

// ---- --publish-rm and --publish-add ----

TEST(EditPublishedPortsTest, RemoveMatchesTheTargetPortProtocolAndModeAsDockerDoes) {
  std::vector<api::PortConfig> ports = {port(8080, 80), port(8081, 80, "udp"),
                                        port(9090, 80, "tcp", "host"), port(7070, 70)};

  EXPECT_THAT(must(editPublishedPorts("web", ports, {"80"}, {})),
              ElementsAre(port(8081, 80, "udp"), port(9090, 80, "tcp", "host"), port(7070, 70)));
  // A published port in a --publish-rm value narrows it to that port.
  EXPECT_THAT(must(editPublishedPorts("web", ports, {"8081:80/udp"}, {})),
              ElementsAre(port(8080, 80), port(9090, 80, "tcp", "host"), port(7070, 70)));
  EXPECT_FALSE(editPublishedPorts("web", ports, {"1234:80/udp"}, {}).has_value());
  // A bare port that is no target but a published port means that port.
  EXPECT_THAT(must(editPublishedPorts("web", ports, {"7070"}, {})),
              ElementsAre(port(8080, 80), port(8081, 80, "udp"), port(9090, 80, "tcp", "host")));
  EXPECT_THAT(must(editPublishedPorts("web", ports, {"target=80,mode=host", "70"}, {})),
              ElementsAre(port(8080, 80), port(8081, 80, "udp")));
}

TEST(EditPublishedPortsTest, RemovingAPortNotPublishedNamesItAndListsWhatIs) {
  std::vector<api::PortConfig> ports = {port(8080, 80), port(0, 53, "udp")};

  auto edited = editPublishedPorts("web", ports, {"8090"}, {});

  ASSERT_FALSE(edited.has_value());
  EXPECT_EQ(edited.error().kind, ErrorKind::InvalidArgument);
  EXPECT_THAT(edited.error().message,
              AllOf(HasSubstr("--publish-rm \"8090\" is not valid"),
                    HasSubstr("service web publishes no port with target 8090/tcp in ingress mode"),
                    HasSubstr("published=8080,target=80,protocol=tcp,mode=ingress; "
                              "target=53,protocol=udp,mode=ingress")));
}

TEST(EditPublishedPortsTest, RemovingFromAServiceThatPublishesNothingSaysNone) {
  auto edited = editPublishedPorts("web", {}, {"80"}, {});

  ASSERT_FALSE(edited.has_value());
  EXPECT_THAT(edited.error().message, HasSubstr("the service publishes: none"));
}

TEST(EditPublishedPortsTest, RemovingOnePortTwiceIsNoError) {
  EXPECT_THAT(must(editPublishedPorts("web", {port(8080, 80)}, {"80", "target=80"}, {})),
              ElementsAre());
}

TEST(EditPublishedPortsTest, AddAppendsANewPortAndIgnoresOneAlreadyThere) {
  std::vector<api::PortConfig> ports = {port(8080, 80)};

  EXPECT_THAT(must(editPublishedPorts("web", ports, {}, {"8080:80", "9090:90/udp", "53"})),
              ElementsAre(port(8080, 80), port(9090, 90, "udp"), port(0, 53)));
}

TEST(EditPublishedPortsTest, AddReplacesThePortWithTheSamePublishedPortAndProtocolInPlace) {
  std::vector<api::PortConfig> ports = {port(8080, 80), port(8080, 80, "udp"), port(7070, 70)};

  EXPECT_THAT(must(editPublishedPorts("web", ports, {}, {"published=8080,target=81,mode=host"})),
              ElementsAre(port(8080, 81, "tcp", "host"), port(8080, 80, "udp"), port(7070, 70)));
}

TEST(EditPublishedPortsTest, AddReplacesEveryCopyOfAPublishedPort) {
  std::vector<api::PortConfig> ports = {port(8080, 80), port(7070, 70), port(8080, 90)};

  EXPECT_THAT(must(editPublishedPorts("web", ports, {}, {"8080:81"})),
              ElementsAre(port(8080, 81), port(7070, 70)));
}

TEST(EditPublishedPortsTest, AnAllocatedPortReplacesNothing) {
  std::vector<api::PortConfig> ports = {port(0, 80)};

  EXPECT_THAT(must(editPublishedPorts("web", ports, {}, {"81"})),
              ElementsAre(port(0, 80), port(0, 81)));
}

TEST(EditPublishedPortsTest, RemovalsComeBeforeAdditions) {
  std::vector<api::PortConfig> ports = {port(8080, 80)};

  EXPECT_THAT(must(editPublishedPorts("web", ports, {"80"}, {"8080:80/udp", "9090:80"})),
              ElementsAre(port(8080, 80, "udp"), port(9090, 80)));
}

TEST(EditPublishedPortsTest, ABadValueNamesItsFlag) {
  auto added = editPublishedPorts("web", {}, {}, {"8080:x"});
  ASSERT_FALSE(added.has_value());
  EXPECT_THAT(added.error().message, HasSubstr("--publish-add \"8080:x\" is not valid"));

  auto removed = editPublishedPorts("web", {port(8080, 80)}, {"x"}, {});
  ASSERT_FALSE(removed.has_value());
  EXPECT_THAT(removed.error().message, HasSubstr("--publish-rm \"x\" is not valid"));
}

// ---- through the service flags ----

TEST(PublishServiceFlagsTest, CreateSendsEveryPublishInOrder) {
  ServiceCreateFlags flags;
  flags.name = "web";
  flags.command = {"httpd"};
  flags.publish = {"8080:80", "target=53,protocol=udp,mode=host", "81-82"};

  auto spec = must(specFromCreateFlags(flags));

  EXPECT_THAT(spec.ports,
              ElementsAre(port(8080, 80), port(0, 53, "udp", "host"), port(0, 81), port(0, 82)));
}

TEST(PublishServiceFlagsTest, CreateRefusesABadPublishNamingTheFlag) {
  ServiceCreateFlags flags;
  flags.name = "web";
  flags.command = {"httpd"};
  flags.publish = {"8080:http"};

  auto spec = specFromCreateFlags(flags);

  ASSERT_FALSE(spec.has_value());
  EXPECT_THAT(spec.error().message,
              AllOf(HasSubstr("--publish \"8080:http\" is not valid"),
                    HasSubstr("target port \"http\" is not a number from 1 to 65535")));
}

TEST(PublishServiceFlagsTest, UpdateEditsTheSpecPortsNotTheDecidedOnes) {
  api::Service service = overmesh::testing::replicatedService("web", 2);
  service.spec.ports = {port(0, 80), port(8443, 443)};
  service.ports = {port(30000, 80), port(8443, 443)};
  ServiceUpdateFlags flags;
  flags.publishRm = {"443"};
  flags.publishAdd = {"8080:8080"};

  auto spec = must(applyUpdateFlags(service, flags));

  EXPECT_THAT(spec.ports, ElementsAre(port(0, 80), port(8080, 8080)));
}

TEST(PublishServiceFlagsTest, UpdateWithoutPublishFlagsKeepsThePorts) {
  api::Service service = overmesh::testing::replicatedService("web", 2);
  service.spec.ports = {port(0, 80), port(8443, 443, "udp", "host")};

  auto spec = must(applyUpdateFlags(service, {}));

  EXPECT_EQ(spec.ports, service.spec.ports);
}

}  // namespace
}  // namespace overmesh::cli
