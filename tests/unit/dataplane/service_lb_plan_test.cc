#include "dataplane/service_lb_plan.h"

#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <vector>

#include "support/ip_helpers.h"

namespace overmesh::dataplane {
namespace {

using overmesh::testing::ip;

api::Service vipService(const std::string& id, const std::string& name,
                        std::vector<std::pair<std::string, std::string>> vips) {
  api::Service service;
  service.id = id;
  service.spec.name = name;
  for (const auto& [networkId, address] : vips) {
    service.attachments.push_back({networkId, networkId + "-name", {}});
    service.vips.push_back({networkId, address});
  }
  return service;
}

api::Task liveTask(const std::string& id, const std::string& serviceId,
                   std::vector<std::pair<std::string, std::string>> addresses,
                   const std::string& nodeId = "n1") {
  api::Task task;
  task.id = id;
  task.serviceId = serviceId;
  task.nodeId = nodeId;
  task.desiredState = "running";
  task.state = "running";
  for (const auto& [networkId, address] : addresses) {
    task.attachments.push_back({networkId, networkId + "-name", address, "02:42:0a:00:00:01"});
  }
  return task;
}

std::vector<api::Node> nodes() {
  api::Node ready;
  ready.id = "n1";
  ready.state = "ready";
  api::Node down;
  down.id = "n2";
  down.state = "down";
  return {ready, down};
}

TEST(LbIndexTest, GivesAVipServiceItsLiveBackendsSorted) {
  std::vector<api::Service> services = {vipService("s1", "web", {{"net1", "10.0.0.2/24"}})};
  std::vector<api::Task> tasks = {liveTask("t3", "s1", {{"net1", "10.0.0.9/24"}}),
                                  liveTask("t1", "s1", {{"net1", "10.0.0.10/24"}}),
                                  liveTask("t2", "s1", {{"net1", "10.0.0.5/24"}})};
  auto lb = LbIndex::build(services, tasks, state::NodeReadiness(nodes())).forSandbox({"net1"});
  ASSERT_EQ(lb.services.size(), 1u);
  EXPECT_EQ(lb.services[0].serviceId, "s1");
  EXPECT_EQ(lb.services[0].serviceName, "web");
  EXPECT_EQ(lb.services[0].vip, ip("10.0.0.2"));
  EXPECT_EQ(lb.services[0].backends,
            (std::vector<Ipv4Address>{ip("10.0.0.5"), ip("10.0.0.9"), ip("10.0.0.10")}));
}

TEST(LbIndexTest, LeavesOutDnsrrServices) {
  auto dnsrr = vipService("s1", "web", {{"net1", "10.0.0.2/24"}});
  dnsrr.spec.endpointMode = "dnsrr";
  std::vector<api::Task> tasks = {liveTask("t1", "s1", {{"net1", "10.0.0.5/24"}})};
  auto lb = LbIndex::build({dnsrr}, tasks, state::NodeReadiness(nodes())).forSandbox({"net1"});
  EXPECT_TRUE(lb.services.empty());
}

TEST(LbIndexTest, ShowsOnlyServicesOnTheSandboxsNetworks) {
  std::vector<api::Service> services = {vipService("s1", "web", {{"net1", "10.0.0.2/24"}}),
                                        vipService("s2", "db", {{"net2", "10.1.0.2/24"}})};
  std::vector<api::Task> tasks = {liveTask("t1", "s1", {{"net1", "10.0.0.5/24"}}),
                                  liveTask("t2", "s2", {{"net2", "10.1.0.5/24"}})};
  auto index = LbIndex::build(services, tasks, state::NodeReadiness(nodes()));
  auto onNet2 = index.forSandbox({"net2"});
  ASSERT_EQ(onNet2.services.size(), 1u);
  EXPECT_EQ(onNet2.services[0].serviceId, "s2");
  EXPECT_TRUE(index.forSandbox({"net3"}).services.empty());
  EXPECT_TRUE(index.forSandbox({}).services.empty());
}

TEST(LbIndexTest, UsesTheBackendAddressOnTheVipsOwnNetwork) {
  // A service on two networks: each network's VIP leads to the tasks' addresses there.
  std::vector<api::Service> services = {
      vipService("s1", "web", {{"net1", "10.0.0.2/24"}, {"net2", "10.1.0.2/24"}})};
  std::vector<api::Task> tasks = {
      liveTask("t1", "s1", {{"net1", "10.0.0.5/24"}, {"net2", "10.1.0.5/24"}})};
  auto index = LbIndex::build(services, tasks, state::NodeReadiness(nodes()));
  auto both = index.forSandbox({"net2", "net1", "net2"});
  ASSERT_EQ(both.services.size(), 2u);
  EXPECT_EQ(both.services[0].vip, ip("10.0.0.2"));  // sorted by VIP
  EXPECT_EQ(both.services[0].backends, std::vector<Ipv4Address>{ip("10.0.0.5")});
  EXPECT_EQ(both.services[1].vip, ip("10.1.0.2"));
  EXPECT_EQ(both.services[1].backends, std::vector<Ipv4Address>{ip("10.1.0.5")});
}

TEST(LbIndexTest, SortsServicesByVipAcrossNetworks) {
  std::vector<api::Service> services = {vipService("s1", "a", {{"net1", "10.0.0.9/24"}}),
                                        vipService("s2", "b", {{"net1", "10.0.0.3/24"}}),
                                        vipService("s3", "c", {{"net2", "9.0.0.2/24"}})};
  auto lb =
      LbIndex::build(services, {}, state::NodeReadiness(nodes())).forSandbox({"net1", "net2"});
  ASSERT_EQ(lb.services.size(), 3u);
  EXPECT_EQ(lb.services[0].vip, ip("9.0.0.2"));
  EXPECT_EQ(lb.services[1].vip, ip("10.0.0.3"));
  EXPECT_EQ(lb.services[2].vip, ip("10.0.0.9"));
  EXPECT_TRUE(lb.services[0].backends.empty());  // no task: kept, so that it is refused
}

struct LivenessCase {
  std::string name;
  void (*change)(api::Task&);
  bool live;
};

void PrintTo(const LivenessCase& value, std::ostream* out) { *out << value.name; }

class LbIndexLivenessTest : public ::testing::TestWithParam<LivenessCase> {};

TEST_P(LbIndexLivenessTest, KeepsOnlyLiveTasks) {
  std::vector<api::Service> services = {vipService("s1", "web", {{"net1", "10.0.0.2/24"}})};
  auto task = liveTask("t1", "s1", {{"net1", "10.0.0.5/24"}});
  GetParam().change(task);
  auto lb = LbIndex::build(services, {task}, state::NodeReadiness(nodes())).forSandbox({"net1"});
  ASSERT_EQ(lb.services.size(), 1u);
  EXPECT_EQ(lb.services[0].backends.size(), GetParam().live ? 1u : 0u);
}

void unchanged(api::Task&) {}
void healthy(api::Task& task) {
  task.healthCheck = api::HealthCheck{};
  task.health = "healthy";
}
void unhealthy(api::Task& task) {
  task.healthCheck = api::HealthCheck{};
  task.health = "unhealthy";
}
void healthStarting(api::Task& task) {
  task.healthCheck = api::HealthCheck{};
  task.health = "starting";
}
void desiredShutdown(api::Task& task) { task.desiredState = "shutdown"; }
void notRunningYet(api::Task& task) { task.state = "starting"; }
void exited(api::Task& task) { task.state = "exited"; }
void onDownNode(api::Task& task) { task.nodeId = "n2"; }
void onUnknownNode(api::Task& task) { task.nodeId = "n9"; }

std::string livenessCaseName(const ::testing::TestParamInfo<LivenessCase>& param) {
  return param.param.name;
}

INSTANTIATE_TEST_SUITE_P(Cases, LbIndexLivenessTest,
                         ::testing::Values(LivenessCase{"Running", unchanged, true},
                                           LivenessCase{"Healthy", healthy, true},
                                           LivenessCase{"Unhealthy", unhealthy, false},
                                           LivenessCase{"HealthStarting", healthStarting, false},
                                           LivenessCase{"DesiredShutdown", desiredShutdown, false},
                                           LivenessCase{"NotRunningYet", notRunningYet, false},
                                           LivenessCase{"Exited", exited, false},
                                           LivenessCase{"NodeDown", onDownNode, false},
                                           LivenessCase{"NodeUnknown", onUnknownNode, false}),
                         livenessCaseName);

TEST(LbIndexTest, SkipsWhatDoesNotParseOrDoesNotBelong) {
  std::vector<api::Service> services = {vipService("s1", "web", {{"net1", "10.0.0.2/24"}}),
                                        vipService("s2", "bad", {{"net1", "not-an-ip"}})};
  std::vector<api::Task> tasks = {
      liveTask("t1", "s1", {{"net1", "garbage"}}),
      liveTask("t2", "s1", {{"net9", "10.9.0.5/24"}}),   // no VIP of s1 there
      liveTask("t3", "s1", {{"net1", "10.0.0.2/24"}}),   // the VIP itself: would loop
      liveTask("t4", "", {{"net1", "10.0.0.7/24"}}),     // a standalone task
      liveTask("t5", "s1", {{"net1", "10.0.0.6"}}),      // bare address is fine
      liveTask("t6", "s1", {{"net1", "10.0.0.6/24"}})};  // duplicate address: once
  auto lb = LbIndex::build(services, tasks, state::NodeReadiness(nodes())).forSandbox({"net1"});
  ASSERT_EQ(lb.services.size(), 1u);
  EXPECT_EQ(lb.services[0].backends, std::vector<Ipv4Address>{ip("10.0.0.6")});
}

TEST(LbIndexTest, TwoServicesClaimingOneVipGiveOneEntryDeterministically) {
  std::vector<api::Service> services = {vipService("s2", "b", {{"net1", "10.0.0.2/24"}}),
                                        vipService("s1", "a", {{"net1", "10.0.0.2/24"}})};
  auto lb = LbIndex::build(services, {}, state::NodeReadiness(nodes())).forSandbox({"net1"});
  ASSERT_EQ(lb.services.size(), 1u);
  EXPECT_EQ(lb.services[0].serviceId, "s1");
}

}  // namespace
}  // namespace overmesh::dataplane
