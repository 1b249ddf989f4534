// The embedded resolver's answers (DnsDirectory): every kind of name, case and trailing
// dots, per-network isolation, dnsrr, aliases, tasks.X, and liveness.

#include "dns/dns_directory.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "support/ip_helpers.h"

namespace overmesh::dns {
namespace {

using overmesh::testing::ip;

constexpr const char* kFront = "net-front-id";
constexpr const char* kBack = "net-back-id";

// A fixed sequence for shuffles: tests that check order choose it.
class SequenceRandom final : public RandomSource {
 public:
  explicit SequenceRandom(std::vector<std::uint64_t> values) : values_(std::move(values)) {}
  std::uint64_t next() override { return values_[at_++ % values_.size()]; }

 private:
  std::vector<std::uint64_t> values_;
  std::size_t at_ = 0;
};

api::Network makeNetwork(const std::string& id, const std::string& name) {
  api::Network network;
  network.id = id;
  network.name = name;
  return network;
}

api::Node makeNode(const std::string& id, const std::string& state) {
  api::Node node;
  node.id = id;
  node.state = state;
  return node;
}

api::Service makeService(const std::string& id, const std::string& name,
                         const std::string& endpointMode = "vip") {
  api::Service service;
  service.id = id;
  service.spec.name = name;
  service.spec.endpointMode = endpointMode;
  return service;
}

void attachService(api::Service& service, const std::string& networkId, const std::string& vip,
                   std::vector<std::string> aliases = {}) {
  service.attachments.push_back({networkId, "", std::move(aliases)});
  if (!vip.empty()) {
    service.vips.push_back({networkId, vip});
  }
}

api::Task makeTask(const std::string& id, const api::Service* service, std::int64_t slot,
                   const std::string& networkId, const std::string& address) {
  api::Task task;
  task.id = id;
  if (service != nullptr) {
    task.serviceId = service->id;
    task.serviceName = service->spec.name;
    task.name = fmt::format("{}.{}.{}", service->spec.name, slot, id);
  } else {
    task.name = id;
  }
  task.nodeId = "node1";
  task.desiredState = "running";
  task.state = "running";
  task.attachments.push_back({networkId, "", address, "02:42:00:00:00:01"});
  return task;
}

class DirectoryTest : public ::testing::Test {
 protected:
  DirectoryTest() : random_({0}) {
    networks_ = {makeNetwork(kFront, "front"), makeNetwork(kBack, "back")};
    nodes_ = {makeNode("node1", "ready"), makeNode("node2", "ready")};
  }

  std::shared_ptr<const DnsDirectory> build() {
    return DnsDirectory::build(networks_, services_, tasks_, nodes_);
  }

  // The answer to `name` from a sandbox on `networkIds`, as dotted quads, sorted.
  LookupResult ask(const DnsDirectory& directory, const std::string& name,
                   std::vector<std::string> networkIds,
                   std::vector<std::string>* sorted = nullptr) {
    std::vector<std::uint32_t> addresses;
    LookupResult result = directory.lookup(name, networkIds, random_, addresses);
    if (sorted != nullptr) {
      sorted->clear();
      if (result.kind == LookupKind::Found) {
        for (auto value : addresses) {
          sorted->push_back(Ipv4Address::fromValue(value).toString());
        }
        std::sort(sorted->begin(), sorted->end());
      }
    }
    return result;
  }

  std::vector<api::Network> networks_;
  std::vector<api::Node> nodes_;
  std::vector<api::Service> services_;
  std::vector<api::Task> tasks_;
  SequenceRandom random_;
};

TEST_F(DirectoryTest, ServiceNameResolvesToItsVip) {
  auto web = makeService("svc-web", "web");
  attachService(web, kFront, "10.0.0.2/24");
  services_ = {web};
  tasks_ = {makeTask("t1", &web, 1, kFront, "10.0.0.5/24")};
  auto directory = build();
  std::vector<std::string> addresses;
  auto result = ask(*directory, "web", {kFront}, &addresses);
  EXPECT_EQ(result.kind, LookupKind::Found);
  EXPECT_EQ(result.ttl, kVipTtlSeconds);
  EXPECT_EQ(addresses, std::vector<std::string>{"10.0.0.2"});
}

TEST_F(DirectoryTest, VipAnswersEvenWithoutLiveTasks) {
  auto web = makeService("svc-web", "web");
  attachService(web, kFront, "10.0.0.2/24");
  services_ = {web};
  std::vector<std::string> addresses;
  EXPECT_EQ(ask(*build(), "web", {kFront}, &addresses).kind, LookupKind::Found);
  EXPECT_EQ(addresses, std::vector<std::string>{"10.0.0.2"});
}

TEST_F(DirectoryTest, NamesAreCaseInsensitiveWithOptionalTrailingDot) {
  auto web = makeService("svc-web", "Web");
  attachService(web, kFront, "10.0.0.2/24", {"Api"});
  services_ = {web};
  auto directory = build();
  for (const char* name : {"web", "WEB", "wEb.", "API", "api.", "Tasks.WEB.", "web.FRONT."}) {
    auto result = ask(*directory, name, {kFront});
    EXPECT_NE(result.kind, LookupKind::Forward) << name;
    EXPECT_NE(result.kind, LookupKind::NotFound) << name;
  }
}

TEST_F(DirectoryTest, AliasesResolveLikeTheServiceName) {
  auto web = makeService("svc-web", "web");
  attachService(web, kFront, "10.0.0.2/24", {"www", "frontend-web"});
  services_ = {web};
  tasks_ = {makeTask("t1", &web, 1, kFront, "10.0.0.5/24"),
            makeTask("t2", &web, 2, kFront, "10.0.0.6/24")};
  auto directory = build();
  std::vector<std::string> addresses;
  ASSERT_EQ(ask(*directory, "www", {kFront}, &addresses).kind, LookupKind::Found);
  EXPECT_EQ(addresses, std::vector<std::string>{"10.0.0.2"});
  ASSERT_EQ(ask(*directory, "frontend-web.front", {kFront}, &addresses).kind, LookupKind::Found);
  EXPECT_EQ(addresses, std::vector<std::string>{"10.0.0.2"});
  ASSERT_EQ(ask(*directory, "tasks.www", {kFront}, &addresses).kind, LookupKind::Found);
  EXPECT_EQ(addresses, (std::vector<std::string>{"10.0.0.5", "10.0.0.6"}));
}

TEST_F(DirectoryTest, TasksNameGivesLiveTaskAddresses) {
  auto web = makeService("svc-web", "web");
  attachService(web, kFront, "10.0.0.2/24");
  services_ = {web};
  tasks_ = {makeTask("t1", &web, 1, kFront, "10.0.0.5/24"),
            makeTask("t2", &web, 2, kFront, "10.0.0.6/24"),
            makeTask("t3", &web, 3, kFront, "10.0.0.7/24")};
  std::vector<std::string> addresses;
  auto result = ask(*build(), "tasks.web", {kFront}, &addresses);
  ASSERT_EQ(result.kind, LookupKind::Found);
  EXPECT_EQ(result.ttl, kTaskTtlSeconds);
  EXPECT_EQ(addresses, (std::vector<std::string>{"10.0.0.5", "10.0.0.6", "10.0.0.7"}));
}

TEST_F(DirectoryTest, DnsrrServiceNameGivesLiveTaskAddresses) {
  auto db = makeService("svc-db", "db", "dnsrr");
  attachService(db, kBack, "");
  services_ = {db};
  tasks_ = {makeTask("t1", &db, 1, kBack, "10.0.1.5/24"),
            makeTask("t2", &db, 2, kBack, "10.0.1.6/24")};
  std::vector<std::string> addresses;
  auto result = ask(*build(), "db", {kBack}, &addresses);
  ASSERT_EQ(result.kind, LookupKind::Found);
  EXPECT_EQ(result.ttl, kTaskTtlSeconds);
  EXPECT_EQ(addresses, (std::vector<std::string>{"10.0.1.5", "10.0.1.6"}));
}

TEST_F(DirectoryTest, TaskSetsAreShuffledWithTheInjectedRandomness) {
  auto db = makeService("svc-db", "db", "dnsrr");
  attachService(db, kBack, "");
  services_ = {db};
  tasks_ = {makeTask("t1", &db, 1, kBack, "10.0.1.1/24"),
            makeTask("t2", &db, 2, kBack, "10.0.1.2/24"),
            makeTask("t3", &db, 3, kBack, "10.0.1.3/24")};
  auto directory = build();
  // Fisher-Yates from the back: i=3 swaps [2] with [r%3], i=2 swaps [1] with [r%2].
  SequenceRandom first({0, 0});
  std::vector<std::uint32_t> addresses;
  std::vector<std::string> ids = {kBack};
  ASSERT_EQ(directory->lookup("db", ids, first, addresses).kind, LookupKind::Found);
  EXPECT_EQ(addresses, (std::vector<std::uint32_t>{ip("10.0.1.2").value(), ip("10.0.1.3").value(),
                                                   ip("10.0.1.1").value()}));
  SequenceRandom identity({2, 1});
  ASSERT_EQ(directory->lookup("tasks.db", ids, identity, addresses).kind, LookupKind::Found);
  EXPECT_EQ(addresses, (std::vector<std::uint32_t>{ip("10.0.1.1").value(), ip("10.0.1.2").value(),
                                                   ip("10.0.1.3").value()}));
}

TEST_F(DirectoryTest, VipIsNotShuffledAndTaskNameIsExact) {
  auto web = makeService("svc-web", "web");
  attachService(web, kFront, "10.0.0.2/24");
  services_ = {web};
  tasks_ = {makeTask("abc", &web, 1, kFront, "10.0.0.5/24")};
  std::vector<std::string> addresses;
  auto result = ask(*build(), "web.1.abc", {kFront}, &addresses);
  ASSERT_EQ(result.kind, LookupKind::Found);
  EXPECT_EQ(result.ttl, kTaskTtlSeconds);
  EXPECT_EQ(addresses, std::vector<std::string>{"10.0.0.5"});
}

TEST_F(DirectoryTest, StandaloneTaskNameResolves) {
  tasks_ = {makeTask("client1", nullptr, 0, kFront, "10.0.0.9/24")};
  std::vector<std::string> addresses;
  ASSERT_EQ(ask(*build(), "client1", {kFront}, &addresses).kind, LookupKind::Found);
  EXPECT_EQ(addresses, std::vector<std::string>{"10.0.0.9"});
  ASSERT_EQ(ask(*build(), "CLIENT1.front.", {kFront}, &addresses).kind, LookupKind::Found);
  EXPECT_EQ(addresses, std::vector<std::string>{"10.0.0.9"});
}

TEST_F(DirectoryTest, TaskNameResolvesBeforeItsHealthIsKnown) {
  auto web = makeService("svc-web", "web", "dnsrr");
  attachService(web, kFront, "");
  services_ = {web};
  auto task = makeTask("abc", &web, 1, kFront, "10.0.0.5/24");
  task.healthCheck = api::HealthCheck{};
  task.health = "starting";
  tasks_ = {task};
  auto directory = build();
  EXPECT_EQ(ask(*directory, "web.1.abc", {kFront}).kind, LookupKind::Found);
  EXPECT_EQ(ask(*directory, "web", {kFront}).kind, LookupKind::NoData);
  EXPECT_EQ(ask(*directory, "tasks.web", {kFront}).kind, LookupKind::NoData);
}

TEST_F(DirectoryTest, QualifiedByNetworkName) {
  auto web = makeService("svc-web", "web");
  attachService(web, kFront, "10.0.0.2/24", {"www"});
  services_ = {web};
  tasks_ = {makeTask("abc", &web, 1, kFront, "10.0.0.5/24")};
  auto directory = build();
  std::vector<std::string> addresses;
  for (const char* name :
       {"web.front", "www.front", "tasks.web.front", "tasks.www.front", "web.1.abc.front"}) {
    EXPECT_EQ(ask(*directory, name, {kFront}, &addresses).kind, LookupKind::Found) << name;
  }
  // The wrong network's name is ours to deny, not a name to forward.
  EXPECT_EQ(ask(*directory, "web.back", {kFront, kBack}).kind, LookupKind::NotFound);
}

TEST_F(DirectoryTest, AnswersOnlyFromTheAskersNetworks) {
  auto web = makeService("svc-web", "web");
  attachService(web, kFront, "10.0.0.2/24");
  services_ = {web};
  tasks_ = {makeTask("abc", &web, 1, kFront, "10.0.0.5/24")};
  auto directory = build();
  EXPECT_EQ(ask(*directory, "web", {kBack}).kind, LookupKind::NotFound);
  // Cluster-shaped names of another network are denied here, never forwarded upstream
  // (they would leak the cluster's names and wait for upstream timeouts).
  EXPECT_EQ(ask(*directory, "tasks.web", {kBack}).kind, LookupKind::NotFound);
  EXPECT_EQ(ask(*directory, "web.front", {kBack}).kind, LookupKind::NotFound);
  // A dotted name the cluster has no rule for (a task's full name is one) goes upstream.
  EXPECT_EQ(ask(*directory, "web.1.abc", {kBack}).kind, LookupKind::Forward);
  EXPECT_EQ(ask(*directory, "example.test", {kBack}).kind, LookupKind::Forward);
  EXPECT_EQ(ask(*directory, "web", {}).kind, LookupKind::NotFound);
}

TEST_F(DirectoryTest, ServiceOnTwoNetworksAnswersFromTheAskersFirstNetwork) {
  auto web = makeService("svc-web", "web");
  attachService(web, kFront, "10.0.0.2/24");
  attachService(web, kBack, "10.0.1.2/24");
  services_ = {web};
  auto task = makeTask("abc", &web, 1, kFront, "10.0.0.5/24");
  task.attachments.push_back({kBack, "", "10.0.1.5/24", "02:42:00:00:00:02"});
  tasks_ = {task};
  auto directory = build();
  std::vector<std::string> addresses;
  ask(*directory, "web", {kBack, kFront}, &addresses);
  EXPECT_EQ(addresses, std::vector<std::string>{"10.0.1.2"});
  ask(*directory, "web", {kFront, kBack}, &addresses);
  EXPECT_EQ(addresses, std::vector<std::string>{"10.0.0.2"});
  ask(*directory, "tasks.web", {kBack}, &addresses);
  EXPECT_EQ(addresses, std::vector<std::string>{"10.0.1.5"});
  ask(*directory, "web.1.abc", {kBack}, &addresses);
  EXPECT_EQ(addresses, std::vector<std::string>{"10.0.1.5"});
}

TEST_F(DirectoryTest, OnlyLiveTasksAreInTaskSets) {
  auto web = makeService("svc-web", "web");
  attachService(web, kFront, "10.0.0.2/24");
  services_ = {web};
  auto live = makeTask("t1", &web, 1, kFront, "10.0.0.1/24");
  auto unhealthy = makeTask("t2", &web, 2, kFront, "10.0.0.2/24");
  unhealthy.healthCheck = api::HealthCheck{};
  unhealthy.health = "unhealthy";
  auto healthy = makeTask("t3", &web, 3, kFront, "10.0.0.3/24");
  healthy.healthCheck = api::HealthCheck{};
  healthy.health = "healthy";
  auto stopping = makeTask("t4", &web, 4, kFront, "10.0.0.4/24");
  stopping.desiredState = "shutdown";
  auto exited = makeTask("t5", &web, 5, kFront, "10.0.0.5/24");
  exited.state = "exited";
  auto pending = makeTask("t6", &web, 6, kFront, "10.0.0.6/24");
  pending.state = "pending";
  auto onDownNode = makeTask("t7", &web, 7, kFront, "10.0.0.7/24");
  onDownNode.nodeId = "node3";
  nodes_.push_back(makeNode("node3", "down"));
  auto onUnknownNode = makeTask("t8", &web, 8, kFront, "10.0.0.8/24");
  onUnknownNode.nodeId = "gone";
  tasks_ = {live, unhealthy, healthy, stopping, exited, pending, onDownNode, onUnknownNode};
  auto directory = build();
  std::vector<std::string> addresses;
  ASSERT_EQ(ask(*directory, "tasks.web", {kFront}, &addresses).kind, LookupKind::Found);
  EXPECT_EQ(addresses, (std::vector<std::string>{"10.0.0.1", "10.0.0.3"}));
  // Own names: an unhealthy task still has its sandbox; stopping, exited, pending and
  // down-node tasks do not resolve.
  EXPECT_EQ(ask(*directory, unhealthy.name, {kFront}).kind, LookupKind::Found);
  for (const auto* task : {&stopping, &exited, &pending, &onDownNode, &onUnknownNode}) {
    EXPECT_EQ(ask(*directory, task->name, {kFront}).kind, LookupKind::Forward) << task->name;
  }
}

TEST_F(DirectoryTest, NoLiveReplicaIsNoDataNotNxdomain) {
  auto db = makeService("svc-db", "db", "dnsrr");
  attachService(db, kBack, "", {"database"});
  services_ = {db};
  auto down = makeTask("t1", &db, 1, kBack, "10.0.1.5/24");
  down.state = "failed";
  tasks_ = {down};
  auto directory = build();
  for (const char* name : {"db", "database", "tasks.db", "tasks.database", "db.back"}) {
    EXPECT_EQ(ask(*directory, name, {kBack}).kind, LookupKind::NoData) << name;
  }
}

TEST_F(DirectoryTest, UnknownNamesAreDeniedOrForwarded) {
  auto directory = build();
  EXPECT_EQ(ask(*directory, "nosuch", {kFront}).kind, LookupKind::NotFound);
  EXPECT_EQ(ask(*directory, "nosuch.front", {kFront}).kind, LookupKind::NotFound);
  EXPECT_EQ(ask(*directory, "example.com", {kFront}).kind, LookupKind::Forward);
  EXPECT_EQ(ask(*directory, "example.com.", {kFront}).kind, LookupKind::Forward);
  EXPECT_EQ(ask(*directory, "", {kFront}).kind, LookupKind::Forward);
  EXPECT_EQ(ask(*directory, ".", {kFront}).kind, LookupKind::Forward);
  EXPECT_EQ(ask(*directory, std::string(300, 'a'), {kFront}).kind, LookupKind::Forward);
}

TEST_F(DirectoryTest, MalformedAddressesAndNamesAreSkipped) {
  auto web = makeService("svc-web", "web");
  attachService(web, kFront, "not-an-ip");
  auto bad = makeService("svc-bad", "bad name");
  attachService(bad, kFront, "10.0.0.3/24");
  services_ = {web, bad};
  tasks_ = {makeTask("t1", &web, 1, kFront, "10.0.0.300/24")};
  auto directory = build();
  EXPECT_EQ(ask(*directory, "web", {kFront}).kind, LookupKind::NoData);
  EXPECT_EQ(ask(*directory, "tasks.web", {kFront}).kind, LookupKind::NoData);
  EXPECT_EQ(ask(*directory, "bad name", {kFront}).kind, LookupKind::NotFound);
  EXPECT_EQ(ask(*directory, "bad name.front", {kFront}).kind, LookupKind::NotFound);
}

TEST_F(DirectoryTest, ServiceNameWinsOverATaskOfTheSameName) {
  auto web = makeService("svc-web", "web");
  attachService(web, kFront, "10.0.0.2/24");
  services_ = {web};
  tasks_ = {makeTask("web", nullptr, 0, kFront, "10.0.0.9/24")};
  std::vector<std::string> addresses;
  ask(*build(), "web", {kFront}, &addresses);
  EXPECT_EQ(addresses, std::vector<std::string>{"10.0.0.2"});
}

TEST_F(DirectoryTest, ThousandsOfServicesBuildAndLookUp) {
  nodes_ = {makeNode("node1", "ready")};
  for (int i = 0; i < 5000; ++i) {
    auto service = makeService(fmt::format("svc{}", i), fmt::format("s{}", i));
    attachService(service, kFront, fmt::format("10.1.{}.{}/16", i / 250, i % 250 + 1));
    tasks_.push_back(makeTask(fmt::format("t{}", i), &service, 1, kFront,
                              fmt::format("10.2.{}.{}/16", i / 250, i % 250 + 1)));
    services_.push_back(std::move(service));
  }
  auto directory = build();
  // Per service and network: name, tasks.name, task name, each also qualified.
  EXPECT_EQ(directory->size(), 5000u * 6);
  std::vector<std::string> addresses;
  ASSERT_EQ(ask(*directory, "tasks.s4999", {kFront}, &addresses).kind, LookupKind::Found);
  EXPECT_EQ(addresses, std::vector<std::string>{"10.2.19.250"});
}

}  // namespace
}  // namespace overmesh::dns
