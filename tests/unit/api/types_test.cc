#include "api/types.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <ostream>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>

#include "common/error.h"
#include "common/json.h"
#include "support/scratch.h"

namespace overmesh::api {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

using ::overmesh::testing::must;

// Encodes `value` and decodes the text again, as a value crossing the API or the Store does.
template <typename T>
T roundTrip(const T& value) {
  return must(decodeJson<T>(encodeJson(value), "test value"));
}

// The top-level keys of `value`'s JSON.
template <typename T>
std::set<std::string> keysOf(const T& value) {
  nlohmann::json json = value;
  std::set<std::string> keys;
  for (const auto& item : json.items()) {
    keys.insert(item.key());
  }
  return keys;
}

// Every field differs from its default, so a field that either direction drops shows up.
Network sampleNetwork() {
  Network network;
  network.id = "n0000000000000000000000001";
  network.name = "frontend";
  network.driver = "overlay";
  network.subnet = "10.0.3.0/24";
  network.gateway = "10.0.3.1";
  network.vni = 4099;
  network.attachable = true;
  network.internal = true;
  network.ingress = true;
  network.labels = {{"team", "payments"}, {"tier", "web"}};
  network.options = {{"encrypted", "true"}};
  network.createdAt = "2026-11-24T14:27:00Z";
  return network;
}

// --- round trips ----------------------------------------------------------------------------

TEST(NetworkJsonTest, RoundTripsEveryField) {
  Network network = roundTrip(sampleNetwork());

  EXPECT_EQ(network.id, "n0000000000000000000000001");
  EXPECT_EQ(network.name, "frontend");
  EXPECT_EQ(network.driver, "overlay");
  EXPECT_EQ(network.subnet, "10.0.3.0/24");
  EXPECT_EQ(network.gateway, "10.0.3.1");
  EXPECT_EQ(network.vni, 4099u);
  EXPECT_TRUE(network.attachable);
  EXPECT_TRUE(network.internal);
  EXPECT_TRUE(network.ingress);
  EXPECT_EQ(network.labels, (Labels{{"team", "payments"}, {"tier", "web"}}));
  EXPECT_EQ(network.options, (Labels{{"encrypted", "true"}}));
  EXPECT_EQ(network.createdAt, "2026-11-24T14:27:00Z");
}

TEST(NetworkJsonTest, UsesLowerCamelCaseFieldNames) {
  EXPECT_EQ(keysOf(sampleNetwork()),
            (std::set<std::string>{"id", "name", "driver", "subnet", "gateway", "vni", "attachable",
                                   "internal", "ingress", "labels", "options", "createdAt"}));
}

TEST(NetworkJsonTest, LargestVniRoundTrips) {
  Network network = sampleNetwork();
  network.vni = 16777215;

  EXPECT_EQ(roundTrip(network).vni, 16777215u);
}

TEST(NetworkJsonTest, MissingFieldsKeepTheirDefaults) {
  Network network = must(decodeJson<Network>(R"({"name":"frontend"})", "network"));

  EXPECT_EQ(network.name, "frontend");
  EXPECT_EQ(network.driver, "overlay");
  EXPECT_EQ(network.vni, 0u);
  EXPECT_FALSE(network.ingress);
  EXPECT_TRUE(network.labels.empty());
}

TEST(NetworkCreateRequestJsonTest, AbsentSubnetAndGatewayAreLeftOutAndStayAbsent) {
  NetworkCreateRequest request;
  request.name = "frontend";

  EXPECT_FALSE(keysOf(request).contains("subnet"));
  EXPECT_FALSE(keysOf(request).contains("gateway"));
  NetworkCreateRequest decoded = roundTrip(request);
  EXPECT_FALSE(decoded.subnet.has_value());
  EXPECT_FALSE(decoded.gateway.has_value());
}

TEST(NetworkCreateRequestJsonTest, PresentSubnetAndGatewayRoundTrip) {
  NetworkCreateRequest request;
  request.name = "frontend";
  request.subnet = "10.9.0.0/24";
  request.gateway = "10.9.0.254";

  NetworkCreateRequest decoded = roundTrip(request);

  EXPECT_EQ(decoded.subnet, "10.9.0.0/24");
  EXPECT_EQ(decoded.gateway, "10.9.0.254");
}

TEST(NetworkCreateRequestJsonTest, NullSubnetIsAbsent) {
  auto request = must(decodeJson<NetworkCreateRequest>(R"({"name":"n","subnet":null})", "request"));

  EXPECT_FALSE(request.subnet.has_value());
}

TEST(NetworkCreateRequestJsonTest, RoundTripsTheOtherFields) {
  NetworkCreateRequest request;
  request.name = "frontend";
  request.driver = "bridge";
  request.attachable = true;
  request.internal = true;
  request.labels = {{"a", "1"}};
  request.options = {{"o", "2"}};

  NetworkCreateRequest decoded = roundTrip(request);

  EXPECT_EQ(decoded.name, "frontend");
  EXPECT_EQ(decoded.driver, "bridge");
  EXPECT_TRUE(decoded.attachable);
  EXPECT_TRUE(decoded.internal);
  EXPECT_EQ(decoded.labels, (Labels{{"a", "1"}}));
  EXPECT_EQ(decoded.options, (Labels{{"o", "2"}}));
}

TEST(ClusterJsonTest, RoundTripsEveryField) {
  Cluster cluster;
  cluster.id = "c0000000000000000000000001";
  cluster.createdAt = "2026-11-24T14:27:00Z";
  cluster.defaultAddrPools = {"10.0.0.0/8", "172.20.0.0/14"};
  cluster.subnetSize = 26;
  cluster.nodeTimeoutMs = 1500;
  cluster.managerAddress = "192.0.2.10:2377";
  cluster.caCertificate = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
  cluster.caFingerprint = std::string(64, 'a');
  cluster.certExpiryMs = 3'600'000;

  Cluster decoded = roundTrip(cluster);

  EXPECT_EQ(decoded.id, cluster.id);
  EXPECT_EQ(decoded.createdAt, cluster.createdAt);
  EXPECT_THAT(decoded.defaultAddrPools, ElementsAre("10.0.0.0/8", "172.20.0.0/14"));
  EXPECT_EQ(decoded.subnetSize, 26);
  EXPECT_EQ(decoded.nodeTimeoutMs, 1500);
  EXPECT_EQ(decoded.managerAddress, "192.0.2.10:2377");
  EXPECT_EQ(decoded.caCertificate, cluster.caCertificate);
  EXPECT_EQ(decoded.caFingerprint, cluster.caFingerprint);
  EXPECT_EQ(decoded.certExpiryMs, 3'600'000);
}

TEST(SwarmInitRequestJsonTest, OptionalFlagsStayAbsentWhenNotGiven) {
  SwarmInitRequest decoded = roundTrip(SwarmInitRequest{});

  EXPECT_FALSE(decoded.defaultAddrPoolMaskLength.has_value());
  EXPECT_FALSE(decoded.nodeTimeoutMs.has_value());
}

TEST(SwarmInitRequestJsonTest, OptionalFlagsRoundTripWhenGiven) {
  SwarmInitRequest request;
  request.advertiseAddr = "192.0.2.10";
  request.defaultAddrPools = {"10.0.0.0/8"};
  request.defaultAddrPoolMaskLength = 20;
  request.nodeTimeoutMs = 5000;

  SwarmInitRequest decoded = roundTrip(request);

  EXPECT_EQ(decoded.advertiseAddr, "192.0.2.10");
  EXPECT_THAT(decoded.defaultAddrPools, ElementsAre("10.0.0.0/8"));
  EXPECT_EQ(decoded.defaultAddrPoolMaskLength, 20);
  EXPECT_EQ(decoded.nodeTimeoutMs, 5000);
}

TEST(NodeJsonTest, RoundTripsEveryField) {
  Node node;
  node.id = "d0000000000000000000000001";
  node.hostname = "worker-1";
  node.address = "192.0.2.11";
  node.role = "worker";
  node.state = "down";
  node.labels = {{"zone", "b"}};
  node.createdAt = "2026-11-24T14:27:00Z";

  Node decoded = roundTrip(node);

  EXPECT_EQ(decoded.id, node.id);
  EXPECT_EQ(decoded.hostname, "worker-1");
  EXPECT_EQ(decoded.address, "192.0.2.11");
  EXPECT_EQ(decoded.role, "worker");
  EXPECT_EQ(decoded.state, "down");
  EXPECT_EQ(decoded.labels, (Labels{{"zone", "b"}}));
  EXPECT_EQ(decoded.createdAt, node.createdAt);
}

TEST(TaskJsonTest, RoundTripsEveryFieldWithAttachments) {
  Task task;
  task.id = "t0000000000000000000000001";
  task.name = "web.1";
  task.serviceId = "s0000000000000000000000001";
  task.nodeId = "d0000000000000000000000001";
  task.command = {"sh", "-c", "echo \"hi\""};
  task.desiredState = "running";
  task.state = "failed";
  task.message = "exit status 1";
  task.nodeName = "h1";
  task.exitCode = 1;
  task.attachments = {{"n1", "front", "10.0.0.2", "02:42:0a:00:00:02"},
                      {"n2", "back", "10.0.1.2", "02:42:0a:00:01:02"}};
  task.createdAt = "2026-11-24T14:27:00Z";

  Task decoded = roundTrip(task);

  EXPECT_EQ(decoded.id, task.id);
  EXPECT_EQ(decoded.name, "web.1");
  EXPECT_EQ(decoded.serviceId, task.serviceId);
  EXPECT_EQ(decoded.nodeId, task.nodeId);
  EXPECT_THAT(decoded.command, ElementsAre("sh", "-c", "echo \"hi\""));
  EXPECT_EQ(decoded.desiredState, "running");
  EXPECT_EQ(decoded.state, "failed");
  EXPECT_EQ(decoded.message, "exit status 1");
  ASSERT_EQ(decoded.attachments.size(), 2u);
  EXPECT_EQ(decoded.nodeName, "h1");
  EXPECT_EQ(decoded.exitCode, 1);
  EXPECT_EQ(decoded.attachments[1].networkId, "n2");
  EXPECT_EQ(decoded.attachments[1].networkName, "back");
  EXPECT_EQ(decoded.attachments[1].address, "10.0.1.2");
  EXPECT_EQ(decoded.attachments[1].mac, "02:42:0a:00:01:02");
  EXPECT_EQ(decoded.createdAt, task.createdAt);
}

// --- decodeJson errors ----------------------------------------------------------------------

struct WrongTypeCase {
  std::string label;
  std::string json;
  std::string field;
};

// Names the case in gtest output instead of dumping its bytes.
void PrintTo(const WrongTypeCase& c, std::ostream* os) { *os << c.label; }

class NetworkWrongFieldTypeTest : public ::testing::TestWithParam<WrongTypeCase> {};

TEST_P(NetworkWrongFieldTypeTest, IsInvalidArgumentNamingWhatAndTheField) {
  auto decoded = decodeJson<Network>(GetParam().json, "network record");

  ASSERT_FALSE(decoded.has_value());
  EXPECT_EQ(decoded.error().kind, ErrorKind::InvalidArgument);
  EXPECT_THAT(decoded.error().message,
              AllOf(HasSubstr("network record"), HasSubstr("\"" + GetParam().field + "\""),
                    HasSubstr("wrong type")));
}

INSTANTIATE_TEST_SUITE_P(
    Fields, NetworkWrongFieldTypeTest,
    ::testing::Values(WrongTypeCase{"NumberForString", R"({"name":5})", "name"},
                      WrongTypeCase{"StringForNumber", R"({"vni":"4096"})", "vni"},
                      WrongTypeCase{"StringForBool", R"({"attachable":"yes"})", "attachable"},
                      WrongTypeCase{"ArrayForMap", R"({"labels":["a=b"]})", "labels"},
                      WrongTypeCase{"NumberInMap", R"({"options":{"mtu":1400}})", "options"}),
    [](const ::testing::TestParamInfo<WrongTypeCase>& paramInfo) { return paramInfo.param.label; });

TEST(DecodeJsonTest, WrongTypeInsideANestedObjectNamesTheInnerField) {
  auto decoded = decodeJson<Task>(R"({"attachments":[{"networkId":7}]})", "task record");

  ASSERT_FALSE(decoded.has_value());
  EXPECT_THAT(decoded.error().message, HasSubstr("\"networkId\""));
}

TEST(DecodeJsonTest, WrongTypeForAnOptionalNamesTheField) {
  auto decoded = decodeJson<NetworkCreateRequest>(R"({"subnet":24})", "request");

  ASSERT_FALSE(decoded.has_value());
  EXPECT_THAT(decoded.error().message, HasSubstr("\"subnet\""));
}

TEST(DecodeJsonTest, InvalidJsonSaysSo) {
  auto decoded = decodeJson<Network>(R"({"name": "frontend")", "request body");

  ASSERT_FALSE(decoded.has_value());
  EXPECT_EQ(decoded.error().kind, ErrorKind::InvalidArgument);
  EXPECT_THAT(decoded.error().message,
              AllOf(HasSubstr("request body"), HasSubstr("not valid JSON")));
}

TEST(DecodeJsonTest, EmptyTextIsInvalidJson) {
  auto decoded = decodeJson<Network>("", "request body");

  ASSERT_FALSE(decoded.has_value());
  EXPECT_THAT(decoded.error().message, HasSubstr("not valid JSON"));
}

TEST(DecodeJsonTest, AScalarIsNotAnObject) {
  auto decoded = decodeJson<Network>("42", "request body");

  ASSERT_FALSE(decoded.has_value());
  EXPECT_EQ(decoded.error().kind, ErrorKind::InvalidArgument);
  EXPECT_THAT(decoded.error().message, HasSubstr("expected a JSON object"));
}

TEST(DecodeJsonTest, UnknownFieldsAreIgnored) {
  auto decoded = decodeJson<Network>(
      R"({"name":"frontend","futureField":{"nested":[1,2]},"vni":4100})", "network record");

  ASSERT_TRUE(decoded.has_value()) << decoded.error().message;
  EXPECT_EQ(decoded->name, "frontend");
  EXPECT_EQ(decoded->vni, 4100u);
}

}  // namespace
}  // namespace overmesh::api
