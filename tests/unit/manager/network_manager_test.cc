#include "manager/network_manager.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "api/service_types.h"
#include "api/types.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/ip.h"
#include "common/json.h"
#include "manager/cluster_manager.h"
#include "state/keys.h"
#include "store/sqlite/sqlite_store.h"
#include "support/scratch.h"

namespace overmesh::manager {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

using overmesh::testing::must;
using TempDir = overmesh::testing::ScratchDir;

const LocalNode kSelf{"manager-1", "192.0.2.10", "192.0.2.10:2377"};

api::NetworkCreateRequest networkRequest(std::string name,
                                         std::optional<std::string> subnet = std::nullopt,
                                         std::optional<std::string> gateway = std::nullopt) {
  api::NetworkCreateRequest request;
  request.name = std::move(name);
  request.subnet = std::move(subnet);
  request.gateway = std::move(gateway);
  return request;
}

// A real SqliteStore in a temp dir, with no cluster yet. Members are destroyed in reverse
// order: the store closes before its directory is removed.
class StoreTest : public ::testing::Test {
 protected:
  StoreTest()
      : store_(must(store::SqliteStore::open((dir_.path() / "state.db").string(), clock_))) {}

  store::Revision revision() { return must(store_->currentRevision()); }

  // Every key in the store, for "nothing was written" checks that also cover guard keys.
  std::vector<std::string> allKeys() {
    std::vector<std::string> keys;
    for (const auto& kv : must(store_->range("")).kvs) {
      keys.push_back(kv.key);
    }
    return keys;
  }

  TempDir dir_;
  SystemClock clock_;
  std::unique_ptr<store::SqliteStore> store_;
};

// A store on which `swarm init` ran with the default pools, and a NetworkManager over it.
// The ingress network init creates is removed: these tests are about the networks users
// create, from the pools' first subnet and VNI on (the ingress network's own tests are in
// ingress_network_test.cc).
class NetworkManagerTest : public StoreTest {
 protected:
  void SetUp() override {
    must(ClusterManager(*store_).init(api::SwarmInitRequest{}, kSelf));
    must(manager_.remove("ingress"));
  }

  // Writes a network record (and its name index) directly, bypassing the manager.
  void writeNetworkRecord(const api::Network& network) {
    must(store_->put(state::keys::network(network.id), encodeJson(network)));
    must(store_->put(state::keys::networkName(network.name), network.id));
  }

  // Writes a task record attached to `networkId`.
  void writeTask(const std::string& id, const std::string& name, const std::string& networkId) {
    api::Task task;
    task.id = id;
    task.name = name;
    task.desiredState = "running";
    task.state = "running";
    task.attachments.push_back(api::TaskAttachment{networkId, "10.0.0.2", "02:42:0a:00:00:02"});
    must(store_->put(state::keys::task(id), encodeJson(task)));
  }

  NetworkManager manager_{*store_};
};

// --- create ---------------------------------------------------------------------------------

TEST_F(NetworkManagerTest, CreateAllocatesTheFirstDefaultSubnetItsGatewayAndTheFirstVni) {
  api::Network network = must(manager_.create(networkRequest("frontend")));

  EXPECT_EQ(network.name, "frontend");
  EXPECT_EQ(network.driver, "overlay");
  EXPECT_EQ(network.subnet, "10.0.0.0/24");
  EXPECT_EQ(network.gateway, "10.0.0.1");
  EXPECT_EQ(network.vni, 4096u);
  EXPECT_EQ(network.id.size(), 25u);
  EXPECT_FALSE(network.createdAt.empty());
}

TEST_F(NetworkManagerTest, CreateKeepsTheRequestedSubnetGatewayFlagsAndLabels) {
  api::NetworkCreateRequest request = networkRequest("backend", "192.168.5.0/24", "192.168.5.254");
  request.attachable = true;
  request.internal = true;
  request.labels = {{"team", "payments"}};

  api::Network network = must(manager_.create(request));

  EXPECT_EQ(network.subnet, "192.168.5.0/24");
  EXPECT_EQ(network.gateway, "192.168.5.254");
  EXPECT_TRUE(network.attachable);
  EXPECT_TRUE(network.internal);
  EXPECT_FALSE(network.ingress);
  EXPECT_EQ(network.labels, (api::Labels{{"team", "payments"}}));
}

TEST_F(NetworkManagerTest, CreatedNetworkIsStoredAsReturned) {
  api::Network created = must(manager_.create(networkRequest("frontend")));

  auto record = must(store_->get(state::keys::network(created.id)));
  ASSERT_TRUE(record.has_value());
  api::Network stored = must(decodeJson<api::Network>(record->value, "network record"));
  EXPECT_EQ(encodeJson(stored), encodeJson(created));
  auto nameIndex = must(store_->get(state::keys::networkName("frontend")));
  ASSERT_TRUE(nameIndex.has_value());
  EXPECT_EQ(nameIndex->value, created.id);
}

TEST_F(NetworkManagerTest, VnisAreUniqueAndIncreasing) {
  std::vector<std::uint32_t> vnis;
  for (int i = 0; i < 6; ++i) {
    vnis.push_back(must(manager_.create(networkRequest("net" + std::to_string(i)))).vni);
  }
  for (std::size_t i = 1; i < vnis.size(); ++i) {
    EXPECT_GT(vnis[i], vnis[i - 1]) << "network " << i;
  }
}

TEST_F(NetworkManagerTest, DefaultSubnetsDoNotOverlap) {
  api::Network first = must(manager_.create(networkRequest("first")));
  api::Network second = must(manager_.create(networkRequest("second")));

  EXPECT_EQ(second.subnet, "10.0.1.0/24");
  EXPECT_FALSE(
      must(Ipv4Prefix::parse(first.subnet)).overlaps(must(Ipv4Prefix::parse(second.subnet))));
}

TEST_F(NetworkManagerTest, DefaultSubnetSkipsAUserChosenSubnet) {
  must(manager_.create(networkRequest("manual", "10.0.0.0/23")));

  EXPECT_EQ(must(manager_.create(networkRequest("auto"))).subnet, "10.0.2.0/24");
}

TEST_F(NetworkManagerTest, RefusesADuplicateNameAndWritesNothing) {
  api::Network existing = must(manager_.create(networkRequest("frontend")));
  store::Revision before = revision();

  auto duplicate = manager_.create(networkRequest("frontend"));

  ASSERT_FALSE(duplicate.has_value());
  EXPECT_EQ(duplicate.error().kind, ErrorKind::Conflict);
  EXPECT_THAT(duplicate.error().message, HasSubstr("frontend"));
  EXPECT_THAT(duplicate.error().message, HasSubstr(existing.id.substr(0, 12)));
  EXPECT_EQ(revision(), before);
}

TEST_F(NetworkManagerTest, RefusesAnOverlappingSubnetAndWritesNothing) {
  must(manager_.create(networkRequest("wide", "172.16.0.0/16")));
  store::Revision before = revision();
  std::vector<std::string> keysBefore = allKeys();

  auto overlapping = manager_.create(networkRequest("narrow", "172.16.4.0/24"));

  ASSERT_FALSE(overlapping.has_value());
  EXPECT_EQ(overlapping.error().kind, ErrorKind::Conflict);
  EXPECT_THAT(overlapping.error().message, HasSubstr("wide"));
  EXPECT_EQ(revision(), before);
  EXPECT_EQ(allKeys(), keysBefore);
}

TEST_F(NetworkManagerTest, FailsWithFailedPreconditionWhenThePoolsAreExhaustedAndWritesNothing) {
  // A fresh cluster whose only pool holds two /30 subnets: the ingress network takes the
  // first, network "one" the second.
  TempDir otherDir;
  auto otherStore = must(store::SqliteStore::open((otherDir.path() / "state.db").string(), clock_));
  api::SwarmInitRequest init;
  init.defaultAddrPools = {"192.168.50.0/29"};
  init.defaultAddrPoolMaskLength = 30;
  must(ClusterManager(*otherStore).init(init, kSelf));
  NetworkManager manager(*otherStore);
  must(manager.create(networkRequest("one")));
  store::Revision before = must(otherStore->currentRevision());

  auto third = manager.create(networkRequest("three"));

  ASSERT_FALSE(third.has_value());
  EXPECT_EQ(third.error().kind, ErrorKind::FailedPrecondition);
  EXPECT_THAT(third.error().message, HasSubstr("exhausted"));
  EXPECT_EQ(must(otherStore->currentRevision()), before);
}

// Every way a request can be invalid: InvalidArgument, a message that names the problem,
// and nothing written.
struct BadRequestCase {
  std::string label;  // test name suffix
  std::function<void(api::NetworkCreateRequest&)> spoil;
  std::string messageFragment;
};

// Names the case in gtest output instead of dumping its bytes.
void PrintTo(const BadRequestCase& c, std::ostream* os) { *os << c.label; }

class NetworkManagerBadRequestTest : public NetworkManagerTest,
                                     public ::testing::WithParamInterface<BadRequestCase> {};

TEST_P(NetworkManagerBadRequestTest, IsInvalidArgumentAndChangesNothing) {
  api::NetworkCreateRequest request = networkRequest("valid-name");
  GetParam().spoil(request);
  store::Revision before = revision();
  std::vector<std::string> keysBefore = allKeys();

  auto created = manager_.create(request);

  ASSERT_FALSE(created.has_value());
  EXPECT_EQ(created.error().kind, ErrorKind::InvalidArgument) << created.error().message;
  EXPECT_THAT(created.error().message, StartsWith("network create: "));
  EXPECT_THAT(created.error().message, HasSubstr(GetParam().messageFragment));
  EXPECT_EQ(revision(), before);
  EXPECT_EQ(allKeys(), keysBefore);
  EXPECT_TRUE(must(manager_.list()).empty());
}

INSTANTIATE_TEST_SUITE_P(
    EveryValidationPath, NetworkManagerBadRequestTest,
    ::testing::Values(
        BadRequestCase{"EmptyName", [](auto& r) { r.name = ""; }, "name is required"},
        BadRequestCase{"NameOf64Characters", [](auto& r) { r.name = std::string(64, 'a'); },
                       "64 characters"},
        BadRequestCase{"NameWithASpace", [](auto& r) { r.name = "my net"; }, "\"my net\""},
        BadRequestCase{"NameWithASlash", [](auto& r) { r.name = "a/b"; }, "\"a/b\""},
        BadRequestCase{"NameStartingWithADash", [](auto& r) { r.name = "-net"; }, "\"-net\""},
        BadRequestCase{"BridgeDriver", [](auto& r) { r.driver = "bridge"; }, "\"bridge\""},
        BadRequestCase{"LabelWithAnEmptyKey",
                       [](auto& r) {
                         r.labels = {{"", "v"}};
                       },
                       "empty key"},
        BadRequestCase{"DriverOption",
                       [](auto& r) {
                         r.options = {{"com.docker.network.mtu", "1400"}};
                       },
                       "com.docker.network.mtu=1400"},
        BadRequestCase{"GatewayWithoutSubnet", [](auto& r) { r.gateway = "10.9.0.1"; },
                       "--gateway needs --subnet"},
        BadRequestCase{"SubnetThatDoesNotParse", [](auto& r) { r.subnet = "10.9.0.0/33"; },
                       "subnet"},
        BadRequestCase{"SubnetWithHostBits", [](auto& r) { r.subnet = "10.9.0.1/24"; },
                       "not a network address"},
        BadRequestCase{"SubnetSmallerThanSlash30", [](auto& r) { r.subnet = "10.9.0.0/31"; },
                       "too small"},
        BadRequestCase{"GatewayThatDoesNotParse",
                       [](auto& r) {
                         r.subnet = "10.9.0.0/24";
                         r.gateway = "10.9.0.300";
                       },
                       "gateway"},
        BadRequestCase{"GatewayOutsideTheSubnet",
                       [](auto& r) {
                         r.subnet = "10.9.0.0/24";
                         r.gateway = "10.9.1.1";
                       },
                       "outside subnet"},
        BadRequestCase{"GatewayIsTheNetworkAddress",
                       [](auto& r) {
                         r.subnet = "10.9.0.0/24";
                         r.gateway = "10.9.0.0";
                       },
                       "network address"},
        BadRequestCase{"GatewayIsTheBroadcastAddress",
                       [](auto& r) {
                         r.subnet = "10.9.0.0/24";
                         r.gateway = "10.9.0.255";
                       },
                       "broadcast address"}),
    [](const ::testing::TestParamInfo<BadRequestCase>& paramInfo) {
      return paramInfo.param.label;
    });

using NetworkManagerWithoutClusterTest = StoreTest;

TEST_F(NetworkManagerWithoutClusterTest,
       CreateBeforeInitFailsWithFailedPreconditionAndWritesNothing) {
  NetworkManager manager(*store_);

  auto created = manager.create(networkRequest("frontend"));

  ASSERT_FALSE(created.has_value());
  EXPECT_EQ(created.error().kind, ErrorKind::FailedPrecondition);
  EXPECT_THAT(created.error().message, HasSubstr("swarm init"));
  EXPECT_EQ(revision(), 0);
}

// --- list and inspect -----------------------------------------------------------------------

TEST_F(NetworkManagerTest, ListIsEmptyWithoutNetworks) {
  EXPECT_TRUE(must(manager_.list()).empty());
}

TEST_F(NetworkManagerTest, ListIsSortedByName) {
  for (const char* name : {"charlie", "alpha", "delta", "bravo"}) {
    must(manager_.create(networkRequest(name)));
  }

  std::vector<std::string> names;
  for (const auto& network : must(manager_.list())) {
    names.push_back(network.name);
  }
  EXPECT_THAT(names, ElementsAre("alpha", "bravo", "charlie", "delta"));
}

TEST_F(NetworkManagerTest, InspectFindsANetworkByFullId) {
  api::Network created = must(manager_.create(networkRequest("frontend")));
  must(manager_.create(networkRequest("backend")));

  EXPECT_EQ(must(manager_.inspect(created.id)).name, "frontend");
}

TEST_F(NetworkManagerTest, InspectFindsANetworkByName) {
  api::Network created = must(manager_.create(networkRequest("frontend")));
  must(manager_.create(networkRequest("backend")));

  EXPECT_EQ(must(manager_.inspect("frontend")).id, created.id);
}

TEST_F(NetworkManagerTest, InspectFindsANetworkByAUniqueIdPrefix) {
  api::Network created = must(manager_.create(networkRequest("frontend")));
  api::Network other = must(manager_.create(networkRequest("backend")));
  std::string prefix = created.id.substr(0, 12);
  ASSERT_FALSE(other.id.starts_with(prefix)) << "random IDs collided in 60 bits";

  EXPECT_EQ(must(manager_.inspect(prefix)).id, created.id);
}

TEST_F(NetworkManagerTest, InspectOfAnAmbiguousIdPrefixListsTheCandidates) {
  // Random IDs never share a useful prefix, so two records are written with chosen IDs.
  api::Network first;
  first.id = "abcde00000000000000000001";
  first.name = "first";
  first.subnet = "10.1.0.0/24";
  first.gateway = "10.1.0.1";
  first.vni = 5000;
  api::Network second = first;
  second.id = "abcde00000000000000000002";
  second.name = "second";
  second.subnet = "10.2.0.0/24";
  second.gateway = "10.2.0.1";
  second.vni = 5001;
  writeNetworkRecord(first);
  writeNetworkRecord(second);

  auto found = manager_.inspect("abcde");

  ASSERT_FALSE(found.has_value());
  EXPECT_EQ(found.error().kind, ErrorKind::InvalidArgument);
  EXPECT_THAT(found.error().message, HasSubstr("ambiguous"));
  EXPECT_THAT(found.error().message, HasSubstr(first.id));
  EXPECT_THAT(found.error().message, HasSubstr(second.id));
}

TEST_F(NetworkManagerTest, InspectOfAnUnknownReferenceIsNotFound) {
  must(manager_.create(networkRequest("frontend")));

  auto found = manager_.inspect("nosuchnet");

  ASSERT_FALSE(found.has_value());
  EXPECT_EQ(found.error().kind, ErrorKind::NotFound);
  EXPECT_THAT(found.error().message, HasSubstr("nosuchnet"));
}

// --- remove ---------------------------------------------------------------------------------

TEST_F(NetworkManagerTest, RemoveDeletesTheNetworkAndItsName) {
  api::Network created = must(manager_.create(networkRequest("frontend")));

  api::Network removed = must(manager_.remove("frontend"));

  EXPECT_EQ(removed.id, created.id);
  EXPECT_EQ(manager_.inspect(created.id).error().kind, ErrorKind::NotFound);
  EXPECT_FALSE(must(store_->get(state::keys::network(created.id))).has_value());
  EXPECT_FALSE(must(store_->get(state::keys::networkName("frontend"))).has_value());
}

TEST_F(NetworkManagerTest, RemoveFreesTheNameForReuse) {
  must(manager_.create(networkRequest("frontend")));
  must(manager_.remove("frontend"));

  EXPECT_TRUE(manager_.create(networkRequest("frontend")).has_value());
}

TEST_F(NetworkManagerTest, RemoveFreesTheSubnetAndTheVniForReuse) {
  api::Network first = must(manager_.create(networkRequest("first")));
  must(manager_.create(networkRequest("second")));
  must(manager_.remove(first.id));

  api::Network third = must(manager_.create(networkRequest("third")));

  EXPECT_EQ(third.subnet, first.subnet);
  EXPECT_EQ(third.vni, first.vni);
}

TEST_F(NetworkManagerTest, RemoveOfAnUnknownNetworkIsNotFoundAndWritesNothing) {
  store::Revision before = revision();

  auto removed = manager_.remove("nosuchnet");

  ASSERT_FALSE(removed.has_value());
  EXPECT_EQ(removed.error().kind, ErrorKind::NotFound);
  EXPECT_EQ(revision(), before);
}

TEST_F(NetworkManagerTest, RemoveRefusesWhileATaskIsAttachedAndNamesTheTask) {
  api::Network network = must(manager_.create(networkRequest("frontend")));
  writeTask("task00000000000000000001", "web.1", network.id);
  store::Revision before = revision();

  auto removed = manager_.remove("frontend");

  ASSERT_FALSE(removed.has_value());
  EXPECT_EQ(removed.error().kind, ErrorKind::FailedPrecondition);
  EXPECT_THAT(removed.error().message, HasSubstr("web.1"));
  EXPECT_EQ(revision(), before);
  EXPECT_TRUE(manager_.inspect(network.id).has_value());
}

TEST_F(NetworkManagerTest, RemoveNamesAnUnnamedAttachedTaskByItsShortId) {
  api::Network network = must(manager_.create(networkRequest("frontend")));
  writeTask("task00000000000000000001", "", network.id);

  auto removed = manager_.remove("frontend");

  ASSERT_FALSE(removed.has_value());
  EXPECT_THAT(removed.error().message, HasSubstr("task00000000"));
}

TEST_F(NetworkManagerTest, RemoveSucceedsOnceTheAttachedTaskRecordIsDeleted) {
  api::Network network = must(manager_.create(networkRequest("frontend")));
  writeTask("task00000000000000000001", "web.1", network.id);
  ASSERT_FALSE(manager_.remove("frontend").has_value());

  must(store_->del(state::keys::task("task00000000000000000001")));

  EXPECT_EQ(must(manager_.remove("frontend")).id, network.id);
}

TEST_F(NetworkManagerTest, RemoveIgnoresTasksAttachedToOtherNetworks) {
  api::Network frontend = must(manager_.create(networkRequest("frontend")));
  api::Network backend = must(manager_.create(networkRequest("backend")));
  writeTask("task00000000000000000001", "db.1", backend.id);

  EXPECT_EQ(must(manager_.remove("frontend")).id, frontend.id);
}

TEST_F(NetworkManagerTest, RemoveRefusesTheIngressNetworkWhileAServicePublishesAnIngressPort) {
  api::Network ingress;
  ingress.id = "ingress000000000000000001";
  ingress.name = "ingress";
  ingress.subnet = "10.255.0.0/16";
  ingress.gateway = "10.255.0.1";
  ingress.vni = 4096;
  ingress.ingress = true;
  writeNetworkRecord(ingress);
  for (const auto& [name, mode] : std::vector<std::pair<std::string, std::string>>{
           {"web", "ingress"}, {"api", "ingress"}, {"db", "host"}}) {
    api::Service service;
    service.id = name + std::string(25 - name.size(), '0');
    service.spec.name = name;
    service.ports.push_back(
        {"tcp", 80, name == "web" ? 8080 : (name == "api" ? 8081 : 8082), mode});
    must(store_->put(state::keys::service(service.id), encodeJson(service)));
  }
  store::Revision before = revision();

  auto removed = manager_.remove("ingress");

  ASSERT_FALSE(removed.has_value());
  EXPECT_EQ(removed.error().kind, ErrorKind::FailedPrecondition);
  EXPECT_THAT(removed.error().message,
              HasSubstr("ingress network ingress cannot be removed because service(s) api, web "
                        "depend on it"));
  EXPECT_EQ(revision(), before);
  EXPECT_TRUE(manager_.inspect(ingress.id).has_value());
}

// --- concurrency ----------------------------------------------------------------------------

// Checks that `networks` hold pairwise non-overlapping subnets and distinct VNIs.
void expectDisjointAllocations(const std::vector<api::Network>& networks) {
  std::set<std::uint32_t> vnis;
  std::vector<Ipv4Prefix> subnets;
  for (const auto& network : networks) {
    EXPECT_TRUE(vnis.insert(network.vni).second) << "VNI " << network.vni << " given twice";
    subnets.push_back(must(Ipv4Prefix::parse(network.subnet)));
  }
  for (std::size_t i = 0; i < subnets.size(); ++i) {
    for (std::size_t j = i + 1; j < subnets.size(); ++j) {
      EXPECT_FALSE(subnets[i].overlaps(subnets[j]))
          << networks[i].name << " " << networks[i].subnet << " overlaps " << networks[j].name
          << " " << networks[j].subnet;
    }
  }
}

TEST_F(NetworkManagerTest, ConcurrentCreatesAllSucceedWithDisjointSubnetsAndDistinctVnis) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 10;
  std::vector<std::vector<Result<api::Network>>> results(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    // Each thread creates its own kPerThread networks through the shared manager.
    threads.emplace_back([this, t, &results] {
      for (int i = 0; i < kPerThread; ++i) {
        results[t].push_back(manager_.create(networkRequest(fmt::format("net-{}-{}", t, i))));
      }
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }

  for (const auto& perThread : results) {
    for (const auto& result : perThread) {
      ASSERT_TRUE(result.has_value()) << result.error().message;
    }
  }
  std::vector<api::Network> listed = must(manager_.list());
  EXPECT_EQ(listed.size(), static_cast<std::size_t>(kThreads * kPerThread));
  expectDisjointAllocations(listed);
}

// Two managers sharing one store (as two manager processes would) are kept apart only by
// the allocation guard's compare-and-swap. A create may give up with Unavailable under
// contention (the caller retries), but no two networks may ever share a subnet or a VNI.
TEST_F(NetworkManagerTest, CreatesThroughTwoManagersOnOneStoreNeverOverlap) {
  constexpr int kPerThread = 10;
  constexpr int kMaxTries = 200;
  NetworkManager otherManager(*store_);
  std::vector<std::string> failures[2];
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    // Thread t creates kPerThread networks through its own manager, retrying Unavailable.
    threads.emplace_back([&, t] {
      NetworkManager& manager = t == 0 ? manager_ : otherManager;
      for (int i = 0; i < kPerThread; ++i) {
        Result<api::Network> created;
        for (int attempt = 0; attempt < kMaxTries; ++attempt) {
          created = manager.create(networkRequest(fmt::format("net-{}-{}", t, i)));
          if (created || created.error().kind != ErrorKind::Unavailable) {
            break;
          }
        }
        if (!created) {
          failures[t].push_back(created.error().message);
        }
      }
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }

  EXPECT_TRUE(failures[0].empty()) << failures[0].front();
  EXPECT_TRUE(failures[1].empty()) << failures[1].front();
  std::vector<api::Network> listed = must(manager_.list());
  EXPECT_EQ(listed.size(), static_cast<std::size_t>(2 * kPerThread));
  expectDisjointAllocations(listed);
}

// --- ClusterManager::init -------------------------------------------------------------------

using ClusterManagerTest = StoreTest;

TEST_F(ClusterManagerTest, InitUsesTheDefaultsWhenGivenNoFlags) {
  InitResult result = must(ClusterManager(*store_).init(api::SwarmInitRequest{}, kSelf));

  EXPECT_THAT(result.cluster.defaultAddrPools, ElementsAre("10.0.0.0/8"));
  EXPECT_EQ(result.cluster.subnetSize, 24);
  EXPECT_EQ(result.cluster.nodeTimeoutMs, 3000);
  EXPECT_EQ(result.cluster.managerAddress, "192.0.2.10:2377");
}

TEST_F(ClusterManagerTest, InitStoresTheClusterRecord) {
  ClusterManager clusters(*store_);
  InitResult result = must(clusters.init(api::SwarmInitRequest{}, kSelf));

  EXPECT_EQ(encodeJson(must(clusters.cluster())), encodeJson(result.cluster));
}

TEST_F(ClusterManagerTest, InitRegistersThisNodeAsAReadyManager) {
  InitResult result = must(ClusterManager(*store_).init(api::SwarmInitRequest{}, kSelf));

  auto record = must(store_->get(state::keys::node(result.node.id)));
  ASSERT_TRUE(record.has_value());
  api::Node node = must(decodeJson<api::Node>(record->value, "node record"));
  EXPECT_EQ(node.hostname, "manager-1");
  EXPECT_EQ(node.address, "192.0.2.10");
  EXPECT_EQ(node.role, "manager");
  EXPECT_EQ(node.state, "ready");
}

TEST_F(ClusterManagerTest, InitKeepsCustomPoolsMaskLengthAndNodeTimeout) {
  api::SwarmInitRequest request;
  request.defaultAddrPools = {"192.168.0.0/16", "172.20.0.0/14"};
  request.defaultAddrPoolMaskLength = 26;
  request.nodeTimeoutMs = 1500;

  ClusterManager clusters(*store_);
  must(clusters.init(request, kSelf));

  api::Cluster cluster = must(clusters.cluster());
  EXPECT_THAT(cluster.defaultAddrPools, ElementsAre("192.168.0.0/16", "172.20.0.0/14"));
  EXPECT_EQ(cluster.subnetSize, 26);
  EXPECT_EQ(cluster.nodeTimeoutMs, 1500);
}

TEST_F(ClusterManagerTest, NetworksAreAllocatedFromTheCustomPools) {
  api::SwarmInitRequest request;
  request.defaultAddrPools = {"192.168.0.0/16"};
  request.defaultAddrPoolMaskLength = 26;
  must(ClusterManager(*store_).init(request, kSelf));
  NetworkManager networks(*store_);

  EXPECT_EQ(must(networks.inspect("ingress")).subnet, "192.168.0.0/26");
  EXPECT_EQ(must(networks.create(networkRequest("first"))).subnet, "192.168.0.64/26");
  EXPECT_EQ(must(networks.create(networkRequest("second"))).subnet, "192.168.0.128/26");
}

TEST_F(ClusterManagerTest, JoinTokensPinTheClustersCaAndDiffer) {
  InitResult result = must(ClusterManager(*store_).init(api::SwarmInitRequest{}, kSelf));

  EXPECT_EQ(result.cluster.caFingerprint.size(), 64u);
  for (const std::string& token : {result.pki.workerToken, result.pki.managerToken}) {
    EXPECT_THAT(token, StartsWith("OMTKN-1-" + result.cluster.caFingerprint + "-"));
  }
  EXPECT_NE(result.pki.workerToken, result.pki.managerToken);
}

TEST_F(ClusterManagerTest, InitTwiceFailsWithFailedPreconditionAndKeepsTheFirstCluster) {
  ClusterManager clusters(*store_);
  InitResult first = must(clusters.init(api::SwarmInitRequest{}, kSelf));
  store::Revision before = revision();

  auto second = clusters.init(api::SwarmInitRequest{}, kSelf);

  ASSERT_FALSE(second.has_value());
  EXPECT_EQ(second.error().kind, ErrorKind::FailedPrecondition);
  EXPECT_EQ(revision(), before);
  EXPECT_EQ(must(clusters.cluster()).id, first.cluster.id);
}

TEST_F(ClusterManagerTest, ClusterBeforeInitIsFailedPrecondition) {
  auto cluster = ClusterManager(*store_).cluster();

  ASSERT_FALSE(cluster.has_value());
  EXPECT_EQ(cluster.error().kind, ErrorKind::FailedPrecondition);
}

// Every invalid init flag: InvalidArgument naming the flag, and nothing written.
struct BadInitCase {
  std::string label;
  std::function<void(api::SwarmInitRequest&)> spoil;
  std::string flag;
};

// Names the case in gtest output instead of dumping its bytes.
void PrintTo(const BadInitCase& c, std::ostream* os) { *os << c.label; }

class ClusterManagerBadInitTest : public ClusterManagerTest,
                                  public ::testing::WithParamInterface<BadInitCase> {};

TEST_P(ClusterManagerBadInitTest, IsInvalidArgumentNamingTheFlagAndWritesNothing) {
  api::SwarmInitRequest request;
  GetParam().spoil(request);

  auto result = ClusterManager(*store_).init(request, kSelf);

  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().kind, ErrorKind::InvalidArgument) << result.error().message;
  EXPECT_THAT(result.error().message, HasSubstr(GetParam().flag));
  EXPECT_EQ(revision(), 0);
  EXPECT_TRUE(allKeys().empty());
}

INSTANTIATE_TEST_SUITE_P(
    EveryFlag, ClusterManagerBadInitTest,
    ::testing::Values(
        BadInitCase{"PoolThatDoesNotParse", [](auto& r) { r.defaultAddrPools = {"10.0.0.0/33"}; },
                    "--default-addr-pool"},
        BadInitCase{"PoolThatIsNotACidr", [](auto& r) { r.defaultAddrPools = {"banana"}; },
                    "--default-addr-pool"},
        BadInitCase{"PoolWithHostBits", [](auto& r) { r.defaultAddrPools = {"10.0.0.1/8"}; },
                    "--default-addr-pool"},
        BadInitCase{"OverlappingPools",
                    [](auto& r) {
                      r.defaultAddrPools = {"10.0.0.0/8", "10.1.0.0/16"};
                    },
                    "--default-addr-pool"},
        BadInitCase{"MaskLengthBelow16", [](auto& r) { r.defaultAddrPoolMaskLength = 8; },
                    "--default-addr-pool-mask-length"},
        BadInitCase{"MaskLengthAbove30", [](auto& r) { r.defaultAddrPoolMaskLength = 31; },
                    "--default-addr-pool-mask-length"},
        BadInitCase{"MaskLengthLargerThanThePool",
                    [](auto& r) {
                      r.defaultAddrPools = {"192.168.0.0/24"};
                      r.defaultAddrPoolMaskLength = 16;
                    },
                    "--default-addr-pool-mask-length"},
        BadInitCase{"NodeTimeoutTooShort", [](auto& r) { r.nodeTimeoutMs = 100; },
                    "--node-timeout"},
        BadInitCase{"NodeTimeoutTooLong", [](auto& r) { r.nodeTimeoutMs = 600'001; },
                    "--node-timeout"},
        BadInitCase{"NegativeNodeTimeout", [](auto& r) { r.nodeTimeoutMs = -1; },
                    "--node-timeout"}),
    [](const ::testing::TestParamInfo<BadInitCase>& paramInfo) { return paramInfo.param.label; });

}  // namespace
}  // namespace overmesh::manager
