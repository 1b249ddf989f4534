// The routing mesh on the manager, through its public managers on a real SQLite store:
// the ingress network's life (swarm init, network create --ingress, network rm), the
// nodes' ingress addresses, and services publishing ports (decided, conflicting, guarded,
// joining their tasks to the ingress network).

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/json.h"
#include "manager/cluster_manager.h"
#include "manager/network_manager.h"
#include "manager/node_manager.h"
#include "manager/service_manager.h"
#include "manager/task_manager.h"
#include "state/keys.h"
#include "store/sqlite/sqlite_store.h"
#include "support/manager_join.h"
#include "support/scratch.h"

namespace overmesh::manager {
namespace {

using overmesh::testing::must;
using ::testing::HasSubstr;

const LocalNode kMeshManager{"h1", "198.18.0.1", "198.18.0.1:2377", "198.18.0.0/24",
                             "172.18.0.0/16"};

api::PortConfig published(std::int64_t port, std::int64_t target, std::string mode = "ingress",
                          std::string protocol = "tcp") {
  return api::PortConfig{std::move(protocol), target, port, std::move(mode)};
}

// A swarm initialised on h1 (the ingress network made by init), with the managers over it.
class MeshManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = must(store::SqliteStore::open((dir_.path() / "state.db").string(), clock_));
    init_ = must(ClusterManager(*store_).init(api::SwarmInitRequest{}, kMeshManager));
    nodes_ = std::make_unique<NodeManager>(*store_, clock_, init_.node.id);
    must(nodes_->load());
    networks_ = std::make_unique<NetworkManager>(*store_);
    tasks_ = std::make_unique<TaskManager>(*store_);
    services_ = std::make_unique<ServiceManager>(*store_);
    api::NetworkCreateRequest front;
    front.name = "front";
    front.subnet = "10.0.20.0/24";
    must(networks_->create(front));
  }

  void TearDown() override { store_->close(); }

  api::Node join(const std::string& hostname, const std::string& address) {
    auto join = overmesh::testing::joinRequestFor(init_.pki.workerToken, hostname, address);
    return must(nodes_->join(join.request, init_.pki.ca, nullptr)).node;
  }

  api::Node storedNode(const std::string& id) {
    auto record = must(store_->get(state::keys::node(id)));
    EXPECT_TRUE(record.has_value());
    return must(decodeJson<api::Node>(record->value, "node"));
  }

  api::ServiceSpec webSpec(std::string name, std::vector<api::PortConfig> ports) {
    api::ServiceSpec spec;
    spec.name = std::move(name);
    spec.replicas = 2;
    spec.command = {"httpd", "-f"};
    spec.networks.push_back({"front", {}});
    spec.ports = std::move(ports);
    return spec;
  }

  Result<api::Service> update(const api::Service& service, std::vector<api::PortConfig> ports) {
    api::ServiceUpdateRequest request;
    request.spec = service.spec;
    request.spec.ports = std::move(ports);
    request.updateIndex = service.updateIndex;
    return services_->update(service.id, request);
  }

  std::vector<api::Task> tasksOf(const std::string& serviceId) {
    std::vector<api::Task> found;
    for (auto& task : must(tasks_->list())) {
      if (task.serviceId == serviceId) {
        found.push_back(task);
      }
    }
    return found;
  }

  store::Revision revision() { return must(store_->currentRevision()); }

  overmesh::testing::ScratchDir dir_;
  ManualClock clock_;
  std::unique_ptr<store::SqliteStore> store_;
  InitResult init_;
  std::unique_ptr<NodeManager> nodes_;
  std::unique_ptr<NetworkManager> networks_;
  std::unique_ptr<TaskManager> tasks_;
  std::unique_ptr<ServiceManager> services_;
};

// --- swarm init ------------------------------------------------------------------------------

TEST_F(MeshManagerTest, InitCreatesTheIngressNetworkFromThePoolsAndGivesTheManagerAnAddress) {
  api::Network ingress = must(networks_->inspect("ingress"));
  EXPECT_TRUE(ingress.ingress);
  EXPECT_EQ(ingress.driver, "overlay");
  EXPECT_EQ(ingress.subnet, "10.0.0.0/24") << "Docker's ingress subnet: the pools' first";
  EXPECT_EQ(ingress.gateway, "10.0.0.1");
  EXPECT_EQ(ingress.vni, 4096u);
  EXPECT_FALSE(ingress.attachable);
  EXPECT_EQ(encodeJson(init_.ingress), encodeJson(ingress));
  EXPECT_EQ(init_.node.ingressAddress, "10.0.0.2/24");
  EXPECT_EQ(storedNode(init_.node.id).ingressAddress, "10.0.0.2/24");
}

TEST(MeshInitTest, InitUsesTheIngressSubnetGivenAndNetworksTakeThePoolsFromTheStart) {
  overmesh::testing::ScratchDir dir;
  SystemClock clock;
  auto store = must(store::SqliteStore::open((dir.path() / "state.db").string(), clock));
  api::SwarmInitRequest request;
  request.ingressSubnet = "10.99.0.0/16";
  InitResult result = must(ClusterManager(*store).init(request, kMeshManager));
  EXPECT_EQ(result.ingress.subnet, "10.99.0.0/16");
  EXPECT_EQ(result.node.ingressAddress, "10.99.0.2/16");
  NetworkManager networks(*store);
  api::NetworkCreateRequest first;
  first.name = "first";
  api::Network created = must(networks.create(first));
  EXPECT_EQ(created.subnet, "10.0.0.0/24");
  EXPECT_EQ(created.vni, 4097u);
  store->close();
}

TEST(MeshInitTest, ABadIngressSubnetIsRefusedNamingTheFlagAndNothingIsWritten) {
  overmesh::testing::ScratchDir dir;
  SystemClock clock;
  auto store = must(store::SqliteStore::open((dir.path() / "state.db").string(), clock));
  struct Case {
    std::string subnet;
    ErrorKind kind;
    std::string message;
  };
  for (const Case& bad :
       {Case{"10.0.0.1/24", ErrorKind::InvalidArgument,
             "swarm init: --ingress-subnet: subnet 10.0.0.1/24 is not a network address"},
        Case{"banana", ErrorKind::InvalidArgument, "swarm init: --ingress-subnet: subnet"},
        Case{"198.18.0.0/25", ErrorKind::Conflict,
             "swarm init: --ingress-subnet: subnet 198.18.0.0/25 is in the underlay network "
             "198.18.0.0/24 of node h1"}}) {
    api::SwarmInitRequest request;
    request.ingressSubnet = bad.subnet;
    auto checked = ClusterManager::validateInit(request, kMeshManager);
    ASSERT_FALSE(checked.has_value()) << bad.subnet;
    EXPECT_EQ(checked.error().kind, bad.kind) << bad.subnet;
    EXPECT_THAT(checked.error().message, HasSubstr(bad.message));
    auto refused = ClusterManager(*store).init(request, kMeshManager);
    ASSERT_FALSE(refused.has_value());
    EXPECT_THAT(refused.error().message, HasSubstr(bad.message));
  }
  EXPECT_TRUE(must(store->range("")).kvs.empty());
  store->close();
}

// --- nodes -----------------------------------------------------------------------------------

TEST_F(MeshManagerTest, AJoiningNodeGetsAnIngressAddressThatNoTaskOrNodeHas) {
  api::Node h2 = join("h2", "198.18.0.2");
  api::Node h3 = join("h3", "198.18.0.3");
  EXPECT_EQ(h2.ingressAddress, "10.0.0.3/24");
  EXPECT_EQ(h3.ingressAddress, "10.0.0.4/24");
  EXPECT_EQ(storedNode(h2.id).ingressAddress, "10.0.0.3/24");
}

TEST_F(MeshManagerTest, ANodeRemovedFreesItsIngressAddress) {
  api::Node h2 = join("h2", "198.18.0.2");
  must(nodes_->remove(h2.id));
  EXPECT_EQ(join("h3", "198.18.0.3").ingressAddress, "10.0.0.3/24");
}

TEST_F(MeshManagerTest, StateAndLabelWritesKeepTheIngressAddress) {
  api::Node h2 = join("h2", "198.18.0.2");
  clock_.advance(std::chrono::seconds(10));
  auto swept = must(nodes_->sweep());
  ASSERT_EQ(swept.size(), 1u);
  EXPECT_EQ(storedNode(h2.id).state, "down");
  EXPECT_EQ(storedNode(h2.id).ingressAddress, "10.0.0.3/24");
  must(nodes_->heartbeat(h2.id));
  must(nodes_->sweep());
  EXPECT_EQ(storedNode(h2.id).state, "ready");
  EXPECT_EQ(storedNode(h2.id).ingressAddress, "10.0.0.3/24");
  NodeUpdateRequest labels;
  labels.labelAdd = {{"zone", "a"}};
  EXPECT_EQ(must(nodes_->updateLabels("h2", labels)).ingressAddress, "10.0.0.3/24");
  EXPECT_EQ(storedNode(h2.id).ingressAddress, "10.0.0.3/24");
}

TEST_F(MeshManagerTest, ANodeJoiningWithoutAnIngressNetworkGetsNoAddress) {
  must(networks_->remove("ingress"));
  EXPECT_EQ(join("h2", "198.18.0.2").ingressAddress, "");
}

// --- network rm ingress ----------------------------------------------------------------------

TEST_F(MeshManagerTest, RemovingTheIngressNetworkClearsEveryNodesAddress) {
  api::Node h2 = join("h2", "198.18.0.2");
  must(services_->create(webSpec("db", {published(5432, 5432, "host")})));
  api::Network removed = must(networks_->remove("ingress"));
  EXPECT_TRUE(removed.ingress);
  EXPECT_EQ(storedNode(init_.node.id).ingressAddress, "");
  EXPECT_EQ(storedNode(h2.id).ingressAddress, "");
  EXPECT_FALSE(must(store_->get(state::keys::networkName("ingress"))).has_value());
}

TEST_F(MeshManagerTest, RemovingTheIngressNetworkIsRefusedWhileAServicePublishesAnIngressPort) {
  must(services_->create(webSpec("web", {published(8080, 80)})));
  store::Revision before = revision();
  auto refused = networks_->remove("ingress");
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().kind, ErrorKind::FailedPrecondition);
  EXPECT_THAT(refused.error().message,
              HasSubstr("ingress network ingress cannot be removed because service(s) web "
                        "depend on it"));
  EXPECT_EQ(revision(), before);
  EXPECT_EQ(storedNode(init_.node.id).ingressAddress, "10.0.0.2/24");
}

TEST_F(MeshManagerTest, RemovalWorksOnceThePortIsRemovedEvenWithTheServicesOldTasksInHistory) {
  auto web = must(services_->create(webSpec("web", {published(8080, 80)})));
  orchestrator::Decisions decisions;
  decisions.create = {{web.id, 1, init_.node.id, web.version}};
  must(services_->apply(decisions));
  auto task = tasksOf(web.id).at(0);
  auto unpublished = must(update(web, {}));
  // The old task is shut down and ended: history, holding no address.
  task.desiredState = "shutdown";
  task.state = "shutdown";
  must(store_->put(state::keys::task(task.id), encodeJson(task)));
  EXPECT_GT(unpublished.version, web.version);
  must(networks_->remove("ingress"));
}

// --- network create --ingress ----------------------------------------------------------------

TEST_F(MeshManagerTest, CreateIngressIsRefusedWhileOneExistsNamingIt) {
  api::NetworkCreateRequest request;
  request.name = "mesh";
  request.ingress = true;
  store::Revision before = revision();
  auto refused = networks_->create(request);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().kind, ErrorKind::Conflict);
  EXPECT_THAT(refused.error().message,
              HasSubstr("network create: an ingress network is already present: ingress (ID "));
  EXPECT_EQ(revision(), before);
}

TEST_F(MeshManagerTest, CreateIngressRefusesAttachableAndOtherDrivers) {
  api::NetworkCreateRequest request;
  request.name = "mesh";
  request.ingress = true;
  request.attachable = true;
  auto attachable = networks_->create(request);
  ASSERT_FALSE(attachable.has_value());
  EXPECT_EQ(attachable.error().kind, ErrorKind::InvalidArgument);
  EXPECT_THAT(attachable.error().message,
              HasSubstr("--attachable cannot be used with --ingress: no task joins the ingress "
                        "network by name; tasks join it by publishing a port"));
  request.attachable = false;
  request.driver = "bridge";
  auto bridge = networks_->create(request);
  ASSERT_FALSE(bridge.has_value());
  EXPECT_THAT(bridge.error().message, HasSubstr("network driver \"bridge\" is not supported"));
}

TEST_F(MeshManagerTest, CreateIngressGivesEveryNodeAnAddressInTheSameWrite) {
  api::Node h2 = join("h2", "198.18.0.2");
  must(networks_->remove("ingress"));
  api::NetworkCreateRequest request;
  request.name = "mesh";
  request.subnet = "10.250.0.0/24";
  request.ingress = true;
  api::Network mesh = must(networks_->create(request));
  EXPECT_TRUE(mesh.ingress);
  EXPECT_TRUE(must(networks_->inspect("mesh")).ingress);
  std::set<std::string> addresses = {storedNode(init_.node.id).ingressAddress,
                                     storedNode(h2.id).ingressAddress};
  EXPECT_EQ(addresses, (std::set<std::string>{"10.250.0.2/24", "10.250.0.3/24"}));
  // A service can publish again, and its tasks join the new network.
  auto web = must(services_->create(webSpec("web", {published(8080, 80)})));
  EXPECT_EQ(web.ports.at(0).publishedPort, 8080);
}

// --- run / service create --network ingress ---------------------------------------------------

TEST_F(MeshManagerTest, NeitherATaskNorAServiceNamesTheIngressNetwork) {
  auto run = tasks_->run(RunRequest{"t1", {"ingress"}, std::nullopt, {"sleep", "60"}});
  ASSERT_FALSE(run.has_value());
  EXPECT_EQ(run.error().kind, ErrorKind::InvalidArgument);
  EXPECT_THAT(run.error().message,
              HasSubstr("--network ingress is the routing-mesh ingress network, which no task "
                        "joins by name: tasks of a service join it by publishing a port"));
  auto spec = webSpec("web", {});
  spec.networks.push_back({"ingress", {}});
  auto service = services_->create(spec);
  ASSERT_FALSE(service.has_value());
  EXPECT_THAT(service.error().message, HasSubstr("tasks join it by publishing a port"));
}

// --- publishing ------------------------------------------------------------------------------

TEST_F(MeshManagerTest, CreateDecidesThePortsAndStoresThem) {
  auto web = must(services_->create(
      webSpec("web", {published(8080, 80), published(0, 443), published(0, 53, "host", "udp")})));
  EXPECT_EQ(web.ports, (std::vector<api::PortConfig>{published(8080, 80), published(30000, 443),
                                                     published(30000, 53, "host", "udp")}));
  EXPECT_EQ(web.spec.ports.at(1).publishedPort, 0) << "the spec stays as the user gave it";
  EXPECT_EQ(must(services_->inspect("web")).ports, web.ports);
  EXPECT_TRUE(web.attachments.size() == 1 && web.vips.size() == 1)
      << "the ingress network is in neither attachments nor vips";
}

TEST_F(MeshManagerTest, BadPortsAreRefusedByCreateAndUpdateAndWriteNothing) {
  auto web = must(services_->create(webSpec("web", {published(8080, 80)})));
  store::Revision before = revision();
  auto created = services_->create(webSpec("api", {published(8081, 80, "ingress", "sctp")}));
  ASSERT_FALSE(created.has_value());
  EXPECT_EQ(created.error().kind, ErrorKind::InvalidArgument);
  EXPECT_THAT(created.error().message,
              HasSubstr("service create: --publish published=8081,target=80,protocol=sctp,"
                        "mode=ingress: protocol sctp is not supported: use tcp or udp"));
  auto updated = update(web, {published(2377, 80)});
  ASSERT_FALSE(updated.has_value());
  EXPECT_THAT(updated.error().message,
              HasSubstr("service update: --publish 2377:80: port 2377/tcp cannot be published"));
  EXPECT_EQ(revision(), before);
}

TEST_F(MeshManagerTest, AnIngressPortWithoutAnIngressNetworkIsRefused) {
  must(networks_->remove("ingress"));
  auto refused = services_->create(webSpec("web", {published(8080, 80)}));
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().kind, ErrorKind::FailedPrecondition);
  EXPECT_EQ(refused.error().message,
            "service create: --publish 8080:80: no ingress network exists; create one with "
            "`overmesh network create --driver overlay --ingress ingress`");
  EXPECT_TRUE(services_->create(webSpec("db", {published(5432, 5432, "host")})))
      << "host mode needs no ingress network";
}

TEST_F(MeshManagerTest, APortTakenByAnotherServiceIsRefusedUntilThatServiceIsRemoved) {
  auto web = must(services_->create(webSpec("web", {published(8080, 80)})));
  store::Revision before = revision();
  auto refused = services_->create(webSpec("api", {published(8080, 80, "host")}));
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().kind, ErrorKind::Conflict);
  EXPECT_THAT(refused.error().message,
              HasSubstr(fmt::format("port '8080' is already in use by service 'web' ({}) as an "
                                    "ingress port",
                                    web.id.substr(0, 12))));
  EXPECT_EQ(revision(), before);
  must(services_->remove("web"));
  EXPECT_TRUE(services_->create(webSpec("api", {published(8080, 80, "host")})));
}

TEST_F(MeshManagerTest, AnUpdateKeepsAllocatedPortsAndIsCheckedForConflicts) {
  auto web = must(services_->create(webSpec("web", {published(0, 80)})));
  ASSERT_EQ(web.ports.at(0).publishedPort, 30000);
  must(services_->create(webSpec("api", {published(9090, 80)})));
  auto updated = must(update(web, {published(0, 80), published(0, 81)}));
  EXPECT_EQ(updated.ports,
            (std::vector<api::PortConfig>{published(30000, 80), published(30001, 81)}));
  auto conflict = update(updated, {published(9090, 80)});
  ASSERT_FALSE(conflict.has_value());
  EXPECT_THAT(conflict.error().message, HasSubstr("service update: --publish 9090:80: port "
                                                  "'9090' is already in use by service 'api'"));
  EXPECT_EQ(must(services_->inspect("web")).ports, updated.ports);
}

TEST_F(MeshManagerTest, TheVersionChangesOnlyWhenTheNeedForTheIngressNetworkChanges) {
  auto web = must(services_->create(webSpec("web", {})));
  auto first = must(update(web, {published(8080, 80)}));
  EXPECT_EQ(first.version, web.version + 1) << "the first ingress port: tasks join ingress";
  auto more = must(update(first, {published(8080, 80), published(8443, 443, "host")}));
  EXPECT_EQ(more.version, first.version);
  auto retarget = must(update(more, {published(8080, 8000), published(8443, 443, "host")}));
  EXPECT_EQ(retarget.version, first.version) << "agents read Service::ports themselves";
  auto hostOnly = must(update(retarget, {published(8443, 443, "host")}));
  EXPECT_EQ(hostOnly.version, first.version + 1) << "the last ingress port: tasks leave it";
}

TEST_F(MeshManagerTest, HostPortsOnAServiceWhoseNetworksAreAllInternalAreRefused) {
  api::NetworkCreateRequest back;
  back.name = "back";
  back.internal = true;
  must(networks_->create(back));
  auto spec = webSpec("db", {published(5432, 5432, "host")});
  spec.networks = {{"back", {}}};
  auto refused = services_->create(spec);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().kind, ErrorKind::InvalidArgument);
  EXPECT_THAT(refused.error().message, HasSubstr("which tasks whose networks are all --internal "
                                                 "do not have"));
  spec.networks.clear();
  EXPECT_TRUE(services_->create(spec)) << "no network at all keeps the gateway bridge";
}

TEST_F(MeshManagerTest, TasksOfAServiceWithAnIngressPortJoinTheIngressNetworkLast) {
  api::Node h2 = join("h2", "198.18.0.2");
  auto web = must(services_->create(webSpec("web", {published(8080, 80)})));
  auto db = must(services_->create(webSpec("db", {published(5432, 5432, "host")})));
  orchestrator::Decisions decisions;
  decisions.create = {{web.id, 1, init_.node.id, web.version},
                      {web.id, 2, h2.id, web.version},
                      {db.id, 1, h2.id, db.version}};
  must(services_->apply(decisions));

  api::Network ingress = must(networks_->inspect("ingress"));
  std::set<std::string> ingressAddresses;
  for (const auto& task : tasksOf(web.id)) {
    ASSERT_EQ(task.attachments.size(), 2u);
    EXPECT_EQ(task.attachments[0].networkName, "front");
    EXPECT_EQ(task.attachments[1].networkId, ingress.id);
    EXPECT_EQ(task.attachments[1].networkName, "ingress");
    EXPECT_FALSE(task.attachments[1].mac.empty());
    ingressAddresses.insert(task.attachments[1].address);
  }
  EXPECT_EQ(ingressAddresses, (std::set<std::string>{"10.0.0.4/24", "10.0.0.5/24"}))
      << "after the nodes' own 10.0.0.2 and 10.0.0.3";
  auto dbTasks = tasksOf(db.id);
  ASSERT_EQ(dbTasks.size(), 1u);
  EXPECT_EQ(dbTasks[0].attachments.size(), 1u) << "host mode needs no ingress network";
  EXPECT_EQ(join("h3", "198.18.0.3").ingressAddress, "10.0.0.6/24") << "tasks' addresses taken";
}

// --- concurrency ------------------------------------------------------------------------------

// A Store that forwards to another and runs `beforeTxn` once, just before the first
// transaction that writes: another manager's request then lands between this one's reads
// and its write, the window a compare-and-swap must close.
class InterleavingStore final : public store::Store {
 public:
  InterleavingStore(store::Store& inner, std::function<void()> beforeTxn)
      : inner_(inner), beforeTxn_(std::move(beforeTxn)) {}

  Result<std::optional<store::KeyValue>> get(const std::string& key) override {
    return inner_.get(key);
  }
  Result<store::RangeResult> range(const std::string& prefix) override {
    return inner_.range(prefix);
  }
  Result<store::TxnResult> txn(const store::Txn& txn) override {
    if (beforeTxn_ && !txn.success.empty()) {
      auto hook = std::exchange(beforeTxn_, nullptr);
      hook();
    }
    return inner_.txn(txn);
  }
  Result<store::WatchResult> watch(const std::string& prefix, store::Revision fromRevision,
                                   std::chrono::milliseconds wait) override {
    return inner_.watch(prefix, fromRevision, wait);
  }
  Result<store::Revision> currentRevision() override { return inner_.currentRevision(); }
  Status compact(store::Revision revision) override { return inner_.compact(revision); }
  Result<store::LeaseId> grantLease(std::chrono::milliseconds ttl) override {
    return inner_.grantLease(ttl);
  }
  Status keepAlive(store::LeaseId lease) override { return inner_.keepAlive(lease); }
  Status revokeLease(store::LeaseId lease) override { return inner_.revokeLease(lease); }
  void close() override {}

 private:
  store::Store& inner_;
  std::function<void()> beforeTxn_;
};

// Two managers on one store decide ports independently; only the published-ports guard
// keeps them from both giving one port away. (Host mode: ingress-mode ports also move the
// ingress network's attachment guard, which would hide a missing ports guard.)
TEST_F(MeshManagerTest, APortPublishedByAnotherManagerMeanwhileIsNotPublishedAgain) {
  Result<api::Service> other;
  InterleavingStore interleaved(*store_, [&] {
    auto api = webSpec("api", {published(8080, 80, "host")});
    api.networks.clear();
    other = ServiceManager(*store_).create(api);
  });
  // No networks: a shared network's attachment guard would hide a missing ports guard too.
  auto web = webSpec("web", {published(8080, 81, "host")});
  web.networks.clear();
  auto refused = ServiceManager(interleaved).create(web);
  ASSERT_TRUE(other) << other.error().message;
  ASSERT_FALSE(refused.has_value()) << "both services got 8080";
  EXPECT_EQ(refused.error().kind, ErrorKind::Conflict);
  EXPECT_THAT(refused.error().message, HasSubstr("already in use by service 'api'"));
}

TEST_F(MeshManagerTest, AnUpdateRacingACreateForOneDynamicPortGetsAnotherOne) {
  auto web = must(services_->create(webSpec("web", {})));
  Result<api::Service> other;
  InterleavingStore interleaved(*store_, [&] {
    other = ServiceManager(*store_).create(webSpec("api", {published(0, 80, "host")}));
  });
  auto updated = [&] {
    api::ServiceUpdateRequest request;
    request.spec = web.spec;
    request.spec.ports = {published(0, 80, "host")};
    request.updateIndex = web.updateIndex;
    return ServiceManager(interleaved).update(web.id, request);
  }();
  ASSERT_TRUE(other) << other.error().message;
  ASSERT_TRUE(updated) << updated.error().message;
  EXPECT_EQ(other->ports.at(0).publishedPort, 30000);
  EXPECT_EQ(updated->ports.at(0).publishedPort, 30001);
}

TEST_F(MeshManagerTest, TheIngressNetworkIsNotRemovedUnderAServiceThatJustPublished) {
  Result<api::Service> web;
  InterleavingStore interleaved(*store_, [&] {
    web = ServiceManager(*store_).create(webSpec("web", {published(8080, 80)}));
  });
  auto removed = NetworkManager(interleaved).remove("ingress");
  ASSERT_TRUE(web) << web.error().message;
  ASSERT_FALSE(removed.has_value());
  EXPECT_TRUE(networks_->inspect("ingress").has_value());
  EXPECT_EQ(storedNode(init_.node.id).ingressAddress, "10.0.0.2/24");
}

TEST_F(MeshManagerTest, TheIngressNetworkIsNotRemovedUnderAnUpdateThatJustPublished) {
  auto web = must(services_->create(webSpec("web", {})));
  Result<api::Service> updated;
  InterleavingStore interleaved(*store_, [&] { updated = update(web, {published(8080, 80)}); });
  auto removed = NetworkManager(interleaved).remove("ingress");
  ASSERT_TRUE(updated) << updated.error().message;
  ASSERT_FALSE(removed.has_value());
  EXPECT_TRUE(networks_->inspect("ingress").has_value());
}

TEST_F(MeshManagerTest, AJoinRacingCreateIngressStillGetsAnAddress) {
  must(networks_->remove("ingress"));
  std::string joined;
  InterleavingStore interleaved(*store_, [&] { joined = join("h2", "198.18.0.2").id; });
  api::NetworkCreateRequest request;
  request.name = "ingress";
  request.ingress = true;
  must(NetworkManager(interleaved).create(request));
  // Nodes get their addresses in key (ID) order: which of the two gets .2 is random.
  std::set<std::string> addresses = {storedNode(init_.node.id).ingressAddress,
                                     storedNode(joined).ingressAddress};
  EXPECT_EQ(addresses, (std::set<std::string>{"10.0.0.2/24", "10.0.0.3/24"}))
      << "create --ingress retried after the join and gave the new node an address";
}

}  // namespace
}  // namespace overmesh::manager
