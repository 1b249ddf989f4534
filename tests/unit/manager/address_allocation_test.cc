#include "manager/address_allocation.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace overmesh::manager {
namespace {

using ::testing::HasSubstr;

api::Network network(std::string subnet, std::string gateway) {
  api::Network n;
  n.id = "net1";
  n.name = "front";
  n.subnet = std::move(subnet);
  n.gateway = std::move(gateway);
  return n;
}

api::Task taskAt(std::string address, std::string desired, std::string state,
                 std::string networkId = "net1") {
  api::Task task;
  task.id = address;
  task.desiredState = std::move(desired);
  task.state = std::move(state);
  task.attachments.push_back({std::move(networkId), "front", std::move(address), ""});
  return task;
}

api::Service serviceWithVip(std::string address, std::string networkId = "net1") {
  api::Service service;
  service.vips.push_back({std::move(networkId), std::move(address)});
  return service;
}

Ipv4Address ip(const char* text) { return *Ipv4Address::parse(text); }

TEST(AddressAllocationTest, TerminalStates) {
  for (const char* state : {"exited", "failed", "shutdown", "rejected"}) {
    EXPECT_TRUE(isTerminalState(state)) << state;
  }
  for (const char* state : {"pending", "running", ""}) {
    EXPECT_FALSE(isTerminalState(state)) << state;
  }
}

TEST(AddressAllocationTest, OnlyTasksShutDownAndTerminalReleaseTheirAddresses) {
  EXPECT_TRUE(holdsAddresses(taskAt("10.0.0.2/24", "running", "running")));
  EXPECT_TRUE(holdsAddresses(taskAt("10.0.0.2/24", "running", "failed")))
      << "not yet told to stop: the orchestrator decides first";
  EXPECT_TRUE(holdsAddresses(taskAt("10.0.0.2/24", "shutdown", "running")))
      << "still running while it drains";
  EXPECT_FALSE(holdsAddresses(taskAt("10.0.0.2/24", "shutdown", "exited")));
  EXPECT_FALSE(holdsAddresses(taskAt("10.0.0.2/24", "shutdown", "shutdown")));
}

TEST(AddressAllocationTest, UsedSetHoldsTaskAddressesAndVipsOfThatNetworkOnly) {
  std::vector<api::Task> tasks = {
      taskAt("10.0.0.2/24", "running", "running"), taskAt("10.0.0.3/24", "shutdown", "exited"),
      taskAt("10.0.0.4/24", "running", "pending", "net2"), taskAt("garbage", "running", "running")};
  std::vector<api::Service> services = {serviceWithVip("10.0.0.5/24"),
                                        serviceWithVip("10.0.0.6/24", "net2")};
  auto used = usedAddresses(network("10.0.0.0/24", "10.0.0.1"), tasks, services, {});
  EXPECT_EQ(used, (std::set<Ipv4Address>{ip("10.0.0.2"), ip("10.0.0.5")}));
}

api::Node nodeWithIngress(std::string address) {
  api::Node node;
  node.id = address;
  node.ingressAddress = std::move(address);
  return node;
}

TEST(AddressAllocationTest, NodeIngressAddressesAreTakenOnTheIngressNetworkOnly) {
  std::vector<api::Node> nodes = {nodeWithIngress("10.0.0.2/24"), nodeWithIngress(""),
                                  nodeWithIngress("garbage")};
  auto ingress = network("10.0.0.0/24", "10.0.0.1");
  ingress.ingress = true;
  EXPECT_EQ(usedAddresses(ingress, {}, {}, nodes), (std::set<Ipv4Address>{ip("10.0.0.2")}));
  EXPECT_TRUE(usedAddresses(network("10.0.0.0/24", "10.0.0.1"), {}, {}, nodes).empty())
      << "a node's ingress address is on the ingress network only";

  auto used = usedAddresses(ingress, {taskAt("10.0.0.3/24", "running", "running")}, {}, nodes);
  auto next = allocateAddress(ingress, used);
  ASSERT_TRUE(next);
  EXPECT_EQ(*next, "10.0.0.4/24") << "neither a node's nor a task's address is given again";
}

TEST(AddressAllocationTest, AllocatesTheLowestFreeAddressSkippingTheGatewayAndMarksItUsed) {
  auto net = network("10.0.0.0/24", "10.0.0.1");
  std::set<Ipv4Address> used = {ip("10.0.0.2")};
  auto first = allocateAddress(net, used);
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_EQ(*first, "10.0.0.3/24");
  auto second = allocateAddress(net, used);
  ASSERT_TRUE(second);
  EXPECT_EQ(*second, "10.0.0.4/24");
}

TEST(AddressAllocationTest, AVipIsNeverGivenToATaskAndATaskAddressNeverToAVip) {
  auto net = network("10.0.0.0/29", "10.0.0.1");
  std::vector<api::Task> tasks = {taskAt("10.0.0.2/29", "running", "running")};
  std::vector<api::Service> services = {serviceWithVip("10.0.0.3/29")};
  auto used = usedAddresses(net, tasks, services, {});
  auto next = allocateAddress(net, used);
  ASSERT_TRUE(next);
  EXPECT_EQ(*next, "10.0.0.4/29");
}

TEST(AddressAllocationTest, AFullSubnetIsFailedPreconditionNamingTheNetwork) {
  auto net = network("10.0.0.0/30", "10.0.0.1");
  std::set<Ipv4Address> used = {ip("10.0.0.2")};
  auto refused = allocateAddress(net, used);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::FailedPrecondition);
  EXPECT_THAT(refused.error().message, HasSubstr("network front"));
}

TEST(AddressAllocationTest, ACorruptNetworkRecordIsInternal) {
  std::set<Ipv4Address> used;
  auto refused = allocateAddress(network("nonsense", "10.0.0.1"), used);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::Internal);
}

}  // namespace
}  // namespace overmesh::manager
