// StackManager (issue 11) on a real SQLite store with a fake image resolver: Docker's
// network rules with their exact messages, redeploys that write only what changed,
// prune, atomicity (nothing written when a check fails, rollback when a write fails),
// remove, list, and --resolve-image.

#include "manager/stack_manager.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <utility>

#include "common/clock.h"
#include "common/json.h"
#include "manager/cluster_manager.h"
#include "manager/network_manager.h"
#include "manager/service_manager.h"
#include "manager/stack_network_rules.h"
#include "manager/stack_service_plan.h"
#include "state/keys.h"
#include "store/sqlite/sqlite_store.h"
#include "support/fake_image_resolver.h"
#include "support/scratch.h"

namespace overmesh::manager {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

const std::string kDigest1 = "sha256:" + std::string(64, '1');
const std::string kDigest2 = "sha256:" + std::string(64, '2');

class StackManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = store::SqliteStore::open((dir_.path() / "store.db").string(), clock_);
    ASSERT_TRUE(store) << store.error().message;
    store_ = std::move(*store);
    auto created = ClusterManager(*store_).init({}, {"h1", "198.18.0.1", "198.18.0.1:2377"});
    ASSERT_TRUE(created) << created.error().message;
    networks_ = std::make_unique<NetworkManager>(*store_);
    services_ = std::make_unique<ServiceManager>(*store_, &resolver_);
    stacks_ = std::make_unique<StackManager>(
        *store_, *networks_, *services_,
        StackManagerOptions{std::chrono::milliseconds(300), std::chrono::milliseconds(10)});
  }

  void TearDown() override { store_->close(); }

  // A service of `stack` as the converter writes it: named <stack>_<key>, labelled, on
  // `networks` with the alias <key>.
  static api::ServiceSpec service(const std::string& stack, const std::string& key,
                                  std::vector<std::string> networks = {}, std::string image = "") {
    api::ServiceSpec spec;
    spec.name = stack + "_" + key;
    spec.labels[api::kStackNamespaceLabel] = stack;
    spec.container.labels[api::kStackNamespaceLabel] = stack;
    if (image.empty()) {
      spec.command = {"sleep", "60"};
    } else {
      spec.labels[api::kStackImageLabel] = image;
      spec.container.image = std::move(image);
    }
    if (networks.empty()) {
      networks.push_back(stack + "_default");
    }
    for (auto& network : networks) {
      spec.networks.push_back({std::move(network), {key}});
    }
    return spec;
  }

  static api::StackNetwork created(const std::string& stack, const std::string& key,
                                   std::string name = "", std::string source = "") {
    api::StackNetwork network;
    network.key = key;
    network.name = name.empty() ? stack + "_" + key : std::move(name);
    network.create.labels[api::kStackNamespaceLabel] = stack;
    network.source = std::move(source);
    return network;
  }

  static api::StackNetwork external(const std::string& key, std::string name,
                                    std::string source = "") {
    api::StackNetwork network;
    network.key = key;
    network.name = std::move(name);
    network.external = true;
    network.source = std::move(source);
    return network;
  }

  static api::StackDeployRequest request(const std::string& stack,
                                         std::vector<api::ServiceSpec> services,
                                         std::vector<api::StackNetwork> networks = {}) {
    api::StackDeployRequest result;
    result.stack = stack;
    result.services = std::move(services);
    result.networks = networks.empty() ? std::vector{created(stack, "default")} : networks;
    result.resolveImage = "never";
    return result;
  }

  void createNetwork(const std::string& name) {
    api::NetworkCreateRequest create;
    create.name = name;
    auto network = networks_->create(create);
    ASSERT_TRUE(network) << network.error().message;
  }

  // The cluster's networks but the ingress network (swarm init makes it).
  std::vector<std::string> networkNames() {
    std::vector<std::string> names;
    auto networks = networks_->list();  // kept: a temporary would die before the loop
    EXPECT_TRUE(networks) << networks.error().message;
    for (const auto& network : networks.value_or(std::vector<api::Network>{})) {
      if (!network.ingress) {
        names.push_back(network.name);
      }
    }
    return names;
  }

  std::vector<std::string> serviceNames() {
    std::vector<std::string> names;
    auto services = services_->list();  // kept: a temporary would die before the loop
    EXPECT_TRUE(services) << services.error().message;
    for (const auto& service : services.value_or(std::vector<api::Service>{})) {
      names.push_back(service.spec.name);
    }
    return names;
  }

  store::Revision revision() { return *store_->currentRevision(); }

  api::StackDeployReply deployed(const api::StackDeployRequest& request) {
    auto reply = stacks_->deploy(request);
    EXPECT_TRUE(reply) << reply.error().message;
    return reply ? *reply : api::StackDeployReply{};
  }

  ManualClock clock_;
  overmesh::testing::ScratchDir dir_;
  std::unique_ptr<store::Store> store_;
  overmesh::testing::FakeImageResolver resolver_;
  std::unique_ptr<NetworkManager> networks_;
  std::unique_ptr<ServiceManager> services_;
  std::unique_ptr<StackManager> stacks_;
};

TEST_F(StackManagerTest, CreatesTheDefaultNetworkAndTheServicesWithTheStackLabel) {
  auto reply = deployed(request("web", {service("web", "web"), service("web", "api")}));
  EXPECT_THAT(reply.networksCreated, ElementsAre("web_default"));
  EXPECT_THAT(reply.servicesCreated, ElementsAre("web_web", "web_api"));
  auto network = networks_->inspect("web_default");
  ASSERT_TRUE(network);
  EXPECT_EQ(network->labels.at(api::kStackNamespaceLabel), "web");
  EXPECT_FALSE(network->attachable);
  auto web = services_->inspect("web_web");
  ASSERT_TRUE(web);
  ASSERT_EQ(web->attachments.size(), 1u);
  EXPECT_EQ(web->attachments[0].networkName, "web_default");
  EXPECT_THAT(web->attachments[0].aliases, ElementsAre("web"));
}

TEST_F(StackManagerTest, AMissingExternalNetworkIsRefusedWithDockersMessageAndTheCommand) {
  auto before = revision();
  auto refused = stacks_->deploy(request("web", {service("web", "web", {"chaos_net"})},
                                         {external("default", "chaos_net", "web.yml:14")}));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::NotFound);
  EXPECT_EQ(refused.error().message,
            "network \"chaos_net\" is declared as external, but could not be found. You need to "
            "create a swarm-scoped network before the stack is deployed: overmesh network create "
            "-d overlay chaos_net (networks.default declared at web.yml:14)");
  EXPECT_EQ(revision(), before);
}

TEST_F(StackManagerTest, AnExistingExternalNetworkIsUsedAndNotCreated) {
  createNetwork("chaos_net");
  auto reply = deployed(
      request("web", {service("web", "web", {"chaos_net"})}, {external("default", "chaos_net")}));
  EXPECT_THAT(reply.networksCreated, IsEmpty());
  EXPECT_THAT(reply.servicesCreated, ElementsAre("web_web"));
}

TEST_F(StackManagerTest, TheIngressNetworkDeclaredExternalIsRefused) {
  // swarm init created it.
  auto refused = stacks_->deploy(
      request("web", {service("web", "web", {"ingress"})}, {external("default", "ingress")}));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::FailedPrecondition);
  EXPECT_EQ(
      refused.error().message,
      "network \"ingress\" is declared as external, but it is the routing mesh's ingress "
      "network: services join it by publishing a port (ports:), not by name (networks.default: "
      "the stack's default network, used by service web_web)");
}

TEST_F(StackManagerTest, ANetworkToCreateWhoseNameIsTakenIsRefusedWithTheWayOut) {
  createNetwork("chaos_net");
  auto before = revision();
  auto refused = stacks_->deploy(request("web", {service("web", "web", {"chaos_net"})},
                                         {created("web", "default", "chaos_net", "web.yml:14")}));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::Conflict);
  EXPECT_EQ(refused.error().message,
            "network with name chaos_net already exists (not created by stack web). To share it, "
            "declare it external (networks: default: external: true, name: chaos_net); to get a "
            "network of the stack's own, give it another name: (networks.default declared at "
            "web.yml:14)");
  EXPECT_EQ(revision(), before);
}

TEST_F(StackManagerTest, ANetworkCarryingThisStacksLabelIsReused) {
  deployed(request("web", {service("web", "web")}));
  auto again = deployed(request("web", {service("web", "web"), service("web", "api")}));
  EXPECT_THAT(again.networksCreated, IsEmpty());
  EXPECT_THAT(again.servicesCreated, ElementsAre("web_api"));
  EXPECT_THAT(again.servicesUnchanged, ElementsAre("web_web"));
}

TEST_F(StackManagerTest, AnotherStacksNetworkIsNotReused) {
  deployed(request("a", {service("a", "web", {"shared"})}, {created("a", "default", "shared")}));
  auto refused = stacks_->deploy(
      request("b", {service("b", "web", {"shared"})}, {created("b", "default", "shared")}));
  ASSERT_FALSE(refused);
  EXPECT_THAT(refused.error().message,
              HasSubstr("network with name shared already exists (not created by stack b)"));
}

TEST_F(StackManagerTest, EveryNetworkProblemIsReportedOnceInOneError) {
  createNetwork("taken");
  api::StackNetwork first = created("web", "one", "same");
  api::StackNetwork second = created("web", "two", "same");
  second.create.attachable = true;
  auto refused =
      stacks_->deploy(request("web", {service("web", "web", {"gone"})},
                              {external("default", "gone"), created("web", "bad", "-bad"),
                               created("web", "t", "taken"), first, second}));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::NotFound);  // the first problem's
  const std::string& message = refused.error().message;
  EXPECT_EQ(std::count(message.begin(), message.end(), '\n'), 3) << message;
  EXPECT_THAT(message, HasSubstr("network \"gone\" is declared as external"));
  EXPECT_THAT(message, HasSubstr("network name \"-bad\" is not valid"));
  EXPECT_THAT(message, HasSubstr("(networks.bad)"));
  EXPECT_THAT(message, HasSubstr("network with name taken already exists"));
  EXPECT_THAT(message, HasSubstr("network \"same\" is named by networks.one and networks.two: "
                                 "two keys cannot name one network"));
}

TEST_F(StackManagerTest, AnEmptyNetworkNameIsRefused) {
  api::StackNetwork unnamed = created("web", "default");
  unnamed.name.clear();
  auto refused = stacks_->deploy(request("web", {service("web", "web")}, {unnamed}));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::InvalidArgument);
  EXPECT_THAT(refused.error().message, HasSubstr("network name is required"));
}

TEST_F(StackManagerTest, RedeployingTheSameRequestWritesNothing) {
  auto stack = request("web", {service("web", "web", {}, "web:1"), service("web", "api")});
  deployed(stack);
  auto before = revision();
  auto index = services_->inspect("web_web")->updateIndex;
  auto again = deployed(stack);
  EXPECT_EQ(revision(), before);
  EXPECT_EQ(services_->inspect("web_web")->updateIndex, index);
  EXPECT_THAT(again.servicesUnchanged, ElementsAre("web_web", "web_api"));
  EXPECT_THAT(again.servicesCreated, IsEmpty());
  EXPECT_THAT(again.servicesUpdated, IsEmpty());
}

TEST_F(StackManagerTest, OnlyTheChangedServiceIsUpdated) {
  auto stack = request("web", {service("web", "web"), service("web", "api")});
  deployed(stack);
  auto webIndex = services_->inspect("web_web")->updateIndex;
  stack.services[1].replicas = 3;
  auto reply = deployed(stack);
  ASSERT_EQ(reply.servicesUpdated.size(), 1u);
  EXPECT_EQ(reply.servicesUpdated[0].spec.name, "web_api");
  EXPECT_EQ(reply.servicesUpdated[0].spec.replicas, 3);
  EXPECT_THAT(reply.servicesUnchanged, ElementsAre("web_web"));
  EXPECT_EQ(services_->inspect("web_web")->updateIndex, webIndex);
}

TEST_F(StackManagerTest, PruneRemovesTheStacksServicesNoLongerInTheRequest) {
  deployed(request("web", {service("web", "web"), service("web", "old")}));
  deployed(request("other", {service("other", "old")}));
  auto kept = deployed(request("web", {service("web", "web")}));
  EXPECT_THAT(kept.servicesRemoved, IsEmpty());
  auto stack = request("web", {service("web", "web")});
  stack.prune = true;
  auto pruned = deployed(stack);
  EXPECT_THAT(pruned.servicesRemoved, ElementsAre("web_old"));
  EXPECT_THAT(serviceNames(), ElementsAre("other_old", "web_web"));
}

TEST_F(StackManagerTest, AnInvalidSecondServiceCreatesNothing) {
  auto before = revision();
  auto bad = service("web", "api");
  bad.replicas = -1;
  auto refused = stacks_->deploy(request("web", {service("web", "web"), bad}));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::InvalidArgument);
  EXPECT_THAT(refused.error().message, HasSubstr("service web_api: "));
  EXPECT_EQ(revision(), before);
  EXPECT_THAT(networkNames(), IsEmpty());
  EXPECT_THAT(serviceNames(), IsEmpty());
}

TEST_F(StackManagerTest, AServiceOnANetworkTheStackDoesNotHaveCreatesNothing) {
  auto before = revision();
  auto refused = stacks_->deploy(request("web", {service("web", "web", {"nowhere"})}));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::NotFound);
  EXPECT_THAT(refused.error().message, HasSubstr("service web_web: "));
  EXPECT_EQ(revision(), before);
}

TEST_F(StackManagerTest, AFailedWriteRemovesWhatTheDeployCreated) {
  createNetwork("front");
  api::ServiceSpec other;
  other.name = "other";
  other.command = {"sleep", "60"};
  other.networks.push_back({"front", {}});
  other.ports.push_back({"tcp", 80, 8080, "host"});
  ASSERT_TRUE(services_->create(other));
  // Found only when the second service is written: its host port is taken.
  auto clash = service("web", "api");
  clash.ports.push_back({"tcp", 80, 8080, "host"});
  auto refused = stacks_->deploy(request("web", {service("web", "web"), clash}));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::Conflict);
  EXPECT_THAT(refused.error().message,
              HasSubstr("rolled back: removed service web_web, network web_default"));
  EXPECT_THAT(networkNames(), ElementsAre("front"));
  EXPECT_THAT(serviceNames(), ElementsAre("other"));
}

TEST_F(StackManagerTest, ANetworkThatCannotBeAllocatedRemovesTheNetworksCreatedBefore) {
  api::NetworkCreateRequest front;
  front.name = "front";
  front.subnet = "10.0.20.0/24";
  ASSERT_TRUE(networks_->create(front));
  // Found only when the second network is allocated: its subnet overlaps front's.
  auto overlapping = created("web", "b");
  overlapping.create.subnet = "10.0.20.0/25";
  auto refused = stacks_->deploy(request("web", {service("web", "web", {"web_a", "web_b"})},
                                         {created("web", "a"), overlapping}));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::Conflict);
  EXPECT_THAT(refused.error().message, HasSubstr("rolled back: removed network web_a"));
  EXPECT_THAT(networkNames(), ElementsAre("front"));
  EXPECT_THAT(serviceNames(), IsEmpty());
}

TEST_F(StackManagerTest, AServiceOfTheSameNameOutsideTheStackIsAConflict) {
  createNetwork("front");
  api::ServiceSpec outside;
  outside.name = "web_web";
  outside.command = {"sleep", "60"};
  outside.networks.push_back({"front", {}});
  ASSERT_TRUE(services_->create(outside));
  auto before = revision();
  auto refused = stacks_->deploy(request("web", {service("web", "web")}));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::Conflict);
  EXPECT_THAT(refused.error().message, HasSubstr("service web_web already exists (ID "));
  EXPECT_THAT(refused.error().message,
              HasSubstr("is not part of stack web: remove it (overmesh service rm web_web), or "
                        "deploy under another stack name"));
  EXPECT_EQ(revision(), before);
}

TEST_F(StackManagerTest, AServiceWithoutTheStackLabelIsRefused) {
  auto unlabelled = service("web", "web");
  unlabelled.labels.clear();
  auto refused = stacks_->deploy(request("web", {unlabelled}));
  ASSERT_FALSE(refused);
  EXPECT_THAT(refused.error().message, HasSubstr("label com.docker.stack.namespace must be web"));
}

TEST_F(StackManagerTest, AnInvalidStackNameOrResolveModeIsRefused) {
  auto stack = request("web", {service("web", "web")});
  stack.resolveImage = "sometimes";
  auto refused = stacks_->deploy(stack);
  ASSERT_FALSE(refused);
  EXPECT_THAT(refused.error().message, HasSubstr("--resolve-image \"sometimes\" is not valid"));
  stack.resolveImage = "never";
  stack.stack = "bad name";
  EXPECT_FALSE(stacks_->deploy(stack));
}

TEST_F(StackManagerTest, RemoveTakesTheStacksServicesAndNetworksAndLeavesTheRestAlone) {
  createNetwork("chaos_net");
  deployed(request(
      "web", {service("web", "web", {"chaos_net", "web_back"}), service("web", "api")},
      {external("shared", "chaos_net"), created("web", "back"), created("web", "default")}));
  deployed(request("other", {service("other", "web", {"chaos_net"})},
                   {external("default", "chaos_net")}));
  auto removed = stacks_->remove("web");
  ASSERT_TRUE(removed) << removed.error().message;
  EXPECT_THAT(removed->servicesRemoved, ElementsAre("web_api", "web_web"));
  EXPECT_THAT(removed->networksRemoved, ElementsAre("web_back", "web_default"));
  EXPECT_THAT(removed->errors, IsEmpty());
  EXPECT_THAT(networkNames(), ElementsAre("chaos_net"));
  EXPECT_THAT(serviceNames(), ElementsAre("other_web"));
}

TEST_F(StackManagerTest, RemovingAStackWithNothingIsNotFound) {
  auto removed = stacks_->remove("web");
  ASSERT_FALSE(removed);
  EXPECT_EQ(removed.error().kind, ErrorKind::NotFound);
  EXPECT_EQ(removed.error().message, "Nothing found in stack: web");
}

TEST_F(StackManagerTest, RemoveWaitsForTheTasksAndReportsANetworkStillInUse) {
  deployed(request("web", {service("web", "web")}));
  auto network = networks_->inspect("web_default");
  auto web = services_->inspect("web_web");
  api::Task task;
  task.id = "task00000000000000000000a";
  task.name = "web_web.1." + task.id;
  task.serviceId = web->id;
  task.desiredState = "shutdown";
  task.attachments.push_back({network->id, network->name, "10.0.0.3/24", ""});
  ASSERT_TRUE(store_->put(state::keys::task(task.id), encodeJson(task)));

  auto stuck = stacks_->remove("web");
  ASSERT_TRUE(stuck) << stuck.error().message;
  EXPECT_THAT(stuck->servicesRemoved, ElementsAre("web_web"));
  ASSERT_EQ(stuck->errors.size(), 1u);
  EXPECT_THAT(stuck->errors[0], HasSubstr("Failed to remove network web_default: network rm: "
                                          "network web_default is in use by task(s)"));

  // The network alone is left; once the task is gone, a second rm removes it.
  std::thread reaper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    EXPECT_TRUE(store_->del(state::keys::task(task.id)));
  });
  reaper.join();
  auto again = stacks_->remove("web");
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_THAT(again->networksRemoved, ElementsAre("web_default"));
}

TEST_F(StackManagerTest, RemoveWaitsUntilTheRemovedServicesTasksAreGone) {
  deployed(request("web", {service("web", "web")}));
  auto network = networks_->inspect("web_default");
  auto web = services_->inspect("web_web");
  api::Task task;
  task.id = "task00000000000000000000b";
  task.name = "web_web.1." + task.id;
  task.serviceId = web->id;
  task.attachments.push_back({network->id, network->name, "10.0.0.3/24", ""});
  ASSERT_TRUE(store_->put(state::keys::task(task.id), encodeJson(task)));
  // The orchestrator's part, while remove() waits: the task's record goes.
  std::thread reaper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    EXPECT_TRUE(store_->del(state::keys::task(task.id)));
  });
  auto removed = stacks_->remove("web");
  reaper.join();
  ASSERT_TRUE(removed) << removed.error().message;
  EXPECT_THAT(removed->networksRemoved, ElementsAre("web_default"));
  EXPECT_THAT(removed->errors, IsEmpty());
}

TEST_F(StackManagerTest, ListCountsEachStacksServicesAndNetworks) {
  createNetwork("chaos_net");
  deployed(request("web", {service("web", "web"), service("web", "api")}));
  deployed(request("db", {service("db", "db", {"chaos_net"})}, {external("default", "chaos_net")}));
  auto stacks = stacks_->list();
  ASSERT_TRUE(stacks) << stacks.error().message;
  ASSERT_EQ(stacks->size(), 2u);
  EXPECT_EQ((*stacks)[0].name, "db");
  EXPECT_EQ((*stacks)[0].services, 1);
  EXPECT_EQ((*stacks)[0].networks, 0);
  EXPECT_EQ((*stacks)[1].name, "web");
  EXPECT_EQ((*stacks)[1].services, 2);
  EXPECT_EQ((*stacks)[1].networks, 1);
}

TEST_F(StackManagerTest, AStackWithOnlyNetworksLeftIsNotListed) {
  deployed(request("web", {service("web", "web")}));
  deployed(request("db", {service("db", "db")}));
  ASSERT_TRUE(services_->remove("web_web"));  // web_default stays behind
  auto stacks = stacks_->list();
  ASSERT_TRUE(stacks) << stacks.error().message;
  ASSERT_EQ(stacks->size(), 1u);
  EXPECT_EQ((*stacks)[0].name, "db");
  EXPECT_EQ((*stacks)[0].networks, 1);
}

TEST_F(StackManagerTest, PruneRemovesBeforeCreatingSoANewServiceMayTakeAPrunedPort) {
  auto old = service("web", "old");
  old.ports.push_back({"tcp", 80, 8080, "host"});
  deployed(request("web", {service("web", "web"), old}));
  // The new service publishes the port the pruned one holds: only prune-first frees it.
  auto next = service("web", "next");
  next.ports.push_back({"tcp", 80, 8080, "host"});
  auto stack = request("web", {service("web", "web"), next});
  stack.prune = true;
  auto reply = deployed(stack);
  EXPECT_THAT(reply.servicesRemoved, ElementsAre("web_old"));
  EXPECT_THAT(reply.servicesCreated, ElementsAre("web_next"));
  EXPECT_THAT(serviceNames(), ElementsAre("web_next", "web_web"));
}

TEST_F(StackManagerTest, AFailedLaterWriteGivesUpdatedServicesTheirPreviousSpecBack) {
  createNetwork("front");
  api::ServiceSpec other;
  other.name = "other";
  other.command = {"sleep", "60"};
  other.networks.push_back({"front", {}});
  other.ports.push_back({"tcp", 80, 8080, "host"});
  ASSERT_TRUE(services_->create(other));
  deployed(request("web", {service("web", "web"), service("web", "api")}));
  // web is updated first; api's update then fails on the taken port.
  auto web = service("web", "web");
  web.replicas = 3;
  auto clash = service("web", "api");
  clash.ports.push_back({"tcp", 80, 8080, "host"});
  auto stack = request("web", {web, clash, service("web", "extra")});
  stack.serviceSources = {{"web_api", "web.yml:12: services.api"}};
  auto refused = stacks_->deploy(stack);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::Conflict);
  EXPECT_THAT(refused.error().message, ::testing::StartsWith("web.yml:12: services.api: "));
  EXPECT_THAT(refused.error().message,
              HasSubstr("\nrolled back: restored the previous spec of service web_web"));
  EXPECT_THAT(refused.error().message, HasSubstr("\nrolled back: removed service web_extra"));
  auto restored = services_->inspect("web_web");
  ASSERT_TRUE(restored) << restored.error().message;
  EXPECT_EQ(restored->spec.replicas, 1);
  EXPECT_THAT(serviceNames(), ElementsAre("other", "web_api", "web_web"));
  // What is stored is the previous spec exactly: the same file deploys as unchanged.
  EXPECT_THAT(
      deployed(request("web", {service("web", "web"), service("web", "api")})).servicesUnchanged,
      ElementsAre("web_web", "web_api"));
}

TEST_F(StackManagerTest, AManagerSideRefusalOfAServiceNamesWhereTheFileDeclaredIt) {
  createNetwork("front");
  api::ServiceSpec outside;
  outside.name = "web_web";
  outside.command = {"sleep", "60"};
  outside.networks.push_back({"front", {}});
  ASSERT_TRUE(services_->create(outside));
  auto bad = service("web", "api");
  bad.replicas = -1;
  auto stack = request("web", {service("web", "web"), bad});
  stack.serviceSources = {{"web_web", "web.yml:3: services.web"},
                          {"web_api", "web.yml:12: services.api"}};
  auto refused = stacks_->deploy(stack);
  ASSERT_FALSE(refused);
  EXPECT_THAT(refused.error().message, HasSubstr("web.yml:12: services.api: service web_api: "));
  // Found against the cluster (under the lock), after the specs were checked.
  stack.services[1] = service("web", "api");
  refused = stacks_->deploy(stack);
  ASSERT_FALSE(refused);
  EXPECT_THAT(refused.error().message,
              ::testing::StartsWith("web.yml:3: services.web: service web_web already exists"));
}

TEST_F(StackManagerTest, TwoStackNetworksWithOneNameAreRefused) {
  auto before = revision();
  auto refused = stacks_->deploy(request(
      "web", {service("web", "web", {"shared"})},
      {created("web", "a", "shared", "web.yml:20"), created("web", "b", "shared", "web.yml:22")}));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::InvalidArgument);
  EXPECT_EQ(refused.error().message,
            "network \"shared\" is named by networks.a and networks.b: two keys cannot name one "
            "network: give one of them a different name: (networks.b declared at web.yml:22)");
  EXPECT_EQ(revision(), before);
}

TEST_F(StackManagerTest, TheRequestsBoundsAreRefusedWithTheLimitNamed) {
  auto before = revision();
  std::vector<api::ServiceSpec> many(1001, service("web", "web"));
  auto refused = stacks_->deploy(request("web", many));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().message,
            "stack deploy: stack web has 1001 services: a stack has at most 1000");
  std::vector<api::StackNetwork> networks;
  for (int i = 0; i < 201; ++i) {
    networks.push_back(created("web", "n" + std::to_string(i)));
  }
  refused = stacks_->deploy(request("web", {service("web", "web")}, networks));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().message,
            "stack deploy: stack web uses 201 networks: a stack uses at most 200");
  auto longSource = request("web", {service("web", "web")});
  longSource.serviceSources["web_web"] = std::string(1025, 'x');
  refused = stacks_->deploy(longSource);
  ASSERT_FALSE(refused);
  EXPECT_THAT(refused.error().message, HasSubstr("its source at most 1024"));
  auto longKey = request("web", {service("web", "web")}, {created("web", std::string(256, 'k'))});
  refused = stacks_->deploy(longKey);
  ASSERT_FALSE(refused);
  EXPECT_THAT(refused.error().message, HasSubstr("256 bytes long: give 1-255 bytes"));
  EXPECT_EQ(revision(), before);
}

TEST_F(StackManagerTest, ImagesAreResolvedBeforeThePlanReadsTheServices) {
  resolver_.answer("docker.io/library/web:1", kDigest1);
  auto stack = request("web", {service("web", "web", {}, "web:1")});
  stack.resolveImage = "always";
  deployed(stack);
  // While the deploy asks the registry, the service is updated (its updateIndex moves):
  // the plan reads it afterwards, so the deploy's own update is not a stale write.
  bool once = false;
  resolver_.onResolve([&] {
    if (std::exchange(once, true)) {
      return;
    }
    auto current = services_->inspect("web_web");
    ASSERT_TRUE(current) << current.error().message;
    api::ServiceSpec changed = current->spec;
    changed.replicas = 2;
    ASSERT_TRUE(services_->update(current->id, {changed, current->updateIndex, false}));
  });
  stack.services[0].replicas = 3;
  auto reply = deployed(stack);
  ASSERT_EQ(reply.servicesUpdated.size(), 1u);
  EXPECT_EQ(services_->inspect("web_web")->spec.replicas, 3);
}

TEST(RollbackReportTest, SaysWhatWasUndoneAndHowToCleanUpANetworkTasksStillHold) {
  RollbackOutcome outcome;
  outcome.restored = {"web_web"};
  outcome.removed = {"service web_api"};
  outcome.failed = {"network web_back: network rm: network web_back is in use by task(s) t1"};
  outcome.stuckNetworks = {"web_back"};
  outcome.pruned = {"web_old"};
  EXPECT_EQ(rollbackReport("web", outcome),
            "\nrolled back: restored the previous spec of service web_web"
            "\nrolled back: removed service web_api"
            "\ncould not roll back: network web_back: network rm: network web_back is in use by "
            "task(s) t1"
            "\nnetwork web_back still had tasks attached when the deploy gave up waiting for "
            "them: once they stopped, clean up with overmesh stack rm web (it removes the whole "
            "stack), or overmesh network rm web_back"
            "\nremoved by --prune before the failure (not restored): service web_old");
  EXPECT_EQ(rollbackReport("web", {}), "");
}

TEST(SummarizeStacksTest, ListsStacksByTheirServicesAndCountsTheirNetworks) {
  api::Service web;
  web.spec.name = "web_web";
  web.spec.labels[api::kStackNamespaceLabel] = "web";
  api::Network webNet;
  webNet.name = "web_default";
  webNet.labels[api::kStackNamespaceLabel] = "web";
  api::Network leftOver;
  leftOver.name = "gone_default";
  leftOver.labels[api::kStackNamespaceLabel] = "gone";
  auto stacks = summarizeStacks({web}, {webNet, leftOver});
  ASSERT_EQ(stacks.size(), 1u);
  EXPECT_EQ(stacks[0].name, "web");
  EXPECT_EQ(stacks[0].services, 1);
  EXPECT_EQ(stacks[0].networks, 1);
}

TEST_F(StackManagerTest, ResolveImageAlwaysPinsEveryImage) {
  resolver_.answer("docker.io/library/web:1", kDigest1);
  auto stack = request("web", {service("web", "web", {}, "web:1")});
  stack.resolveImage = "always";
  deployed(stack);
  EXPECT_EQ(services_->inspect("web_web")->spec.container.image,
            "docker.io/library/web:1@" + kDigest1);
  // Same digest again: nothing changes. A new digest behind the same tag: updated.
  EXPECT_THAT(deployed(stack).servicesUnchanged, ElementsAre("web_web"));
  resolver_.answer("docker.io/library/web:1", kDigest2);
  auto moved = deployed(stack);
  ASSERT_EQ(moved.servicesUpdated.size(), 1u);
  EXPECT_EQ(moved.servicesUpdated[0].spec.container.image, "docker.io/library/web:1@" + kDigest2);
  EXPECT_EQ(resolver_.calls().size(), 3u);
}

TEST_F(StackManagerTest, ResolveImageAlwaysWarnsAndKeepsTheStoredDigestWhenItCannotResolve) {
  resolver_.answer("docker.io/library/web:1", kDigest1);
  auto stack =
      request("web", {service("web", "web", {}, "web:1"), service("web", "db", {}, "db:1")});
  stack.resolveImage = "always";
  auto first = deployed(stack);
  ASSERT_EQ(first.warnings.size(), 1u);  // db:1 is unknown to the registry
  EXPECT_THAT(first.warnings[0], HasSubstr("db:1"));
  resolver_.answer("docker.io/library/web:1", "not a digest");
  auto again = deployed(stack);
  EXPECT_THAT(again.servicesUnchanged, ElementsAre("web_web", "web_db"));
  ASSERT_EQ(again.warnings.size(), 2u);
  EXPECT_THAT(again.warnings[0], HasSubstr("service web_web keeps its image "
                                           "docker.io/library/web:1@" +
                                           kDigest1));
}

TEST_F(StackManagerTest, ResolveImageChangedPinsOnlyAnImageWhoseTextChanged) {
  resolver_.answer("docker.io/library/web:1", kDigest1);
  resolver_.answer("docker.io/library/web:2", kDigest2);
  auto stack = request("web", {service("web", "web", {}, "web:1")});
  stack.resolveImage = "changed";
  deployed(stack);
  EXPECT_EQ(resolver_.calls().size(), 1u);
  EXPECT_THAT(deployed(stack).servicesUnchanged, ElementsAre("web_web"));
  EXPECT_EQ(resolver_.calls().size(), 1u);
  stack.services[0] = service("web", "web", {}, "web:2");
  auto changed = deployed(stack);
  ASSERT_EQ(changed.servicesUpdated.size(), 1u);
  EXPECT_EQ(changed.servicesUpdated[0].spec.container.image, "docker.io/library/web:2@" + kDigest2);
  EXPECT_EQ(resolver_.calls().size(), 2u);
}

TEST_F(StackManagerTest, ResolveImageNeverAsksNoRegistry) {
  resolver_.answer("docker.io/library/web:1", kDigest1);
  deployed(request("web", {service("web", "web", {}, "web:1")}));
  EXPECT_THAT(resolver_.calls(), IsEmpty());
  EXPECT_EQ(services_->inspect("web_web")->spec.container.image, "docker.io/library/web:1");
}

// The pure rules, for what the store cannot hold or the manager never passes on.

api::StackNetwork stackNetwork(std::string key, std::string name, bool external) {
  api::StackNetwork network;
  network.key = std::move(key);
  network.name = std::move(name);
  network.external = external;
  return network;
}

TEST(PlanStackNetworksTest, AnExternalNetworkThatIsNotAnOverlayIsRefused) {
  api::Network bridge;
  bridge.name = "host_net";
  bridge.driver = "bridge";
  auto refused =
      planStackNetworks("web", {stackNetwork("default", "host_net", true)}, {bridge}, {});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::FailedPrecondition);
  EXPECT_THAT(refused.error().message,
              HasSubstr("network \"host_net\" is declared as external, but its driver is "
                        "\"bridge\", not overlay"));
}

TEST(PlanStackNetworksTest, OneNetworkNamedByTwoKeysIsRefusedEvenWhenAlike) {
  auto refused = planStackNetworks(
      "web", {stackNetwork("a", "shared", false), stackNetwork("b", "shared", false)}, {}, {});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::InvalidArgument);
  EXPECT_EQ(refused.error().message,
            "network \"shared\" is named by networks.a and networks.b: two keys cannot name one "
            "network: give one of them a different name: (networks.b)");
}

TEST(PlanStackNetworksTest, TheLabelOfTheStackIsSetOnANetworkToCreate) {
  auto plan = planStackNetworks("web", {stackNetwork("a", "shared", false)}, {}, {});
  ASSERT_TRUE(plan) << plan.error().message;
  ASSERT_EQ(plan->toCreate.size(), 1u);
  EXPECT_EQ(plan->toCreate[0].name, "shared");
  EXPECT_EQ(plan->toCreate[0].labels.at(api::kStackNamespaceLabel), "web");
}

TEST(PlanStackNetworksTest, DockersPredefinedNetworksDeclaredExternalAreRefused) {
  auto host = stackNetwork("hostnet", "host", true);
  host.source = "web.yml:30";
  auto refused = planStackNetworks(
      "web", {host, stackNetwork("b", "bridge", true), stackNetwork("n", "none", true)}, {}, {});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::FailedPrecondition);
  const std::string& message = refused.error().message;
  EXPECT_THAT(message, HasSubstr("network \"host\" is Docker's host networking: overmesh tasks "
                                 "always run in a sandbox of their own; remove it from the "
                                 "stack's networks (networks.hostnet declared at web.yml:30)"));
  EXPECT_THAT(message, HasSubstr("network \"bridge\" is Docker's default bridge network"));
  EXPECT_THAT(message, HasSubstr("network \"none\" is Docker's \"no network\" mode"));
  EXPECT_EQ(std::count(message.begin(), message.end(), '\n'), 2) << message;
}

TEST(PlanStackNetworksTest, AProblemWithTheImplicitDefaultNetworkNamesTheServicesUsingIt) {
  api::Network taken;
  taken.name = "web_default";
  api::ServiceSpec api;
  api.name = "web_api";
  api.networks.push_back({"web_default", {"api"}});
  api::ServiceSpec db = api;
  db.name = "web_db";
  api::ServiceSpec elsewhere;
  elsewhere.name = "web_other";
  elsewhere.networks.push_back({"web_back", {}});
  auto refused = planStackNetworks("web", {stackNetwork("default", "web_default", false)}, {taken},
                                   {db, elsewhere, api});
  ASSERT_FALSE(refused);
  EXPECT_THAT(refused.error().message,
              HasSubstr("(networks.default: the stack's default network, used by services "
                        "web_api, web_db)"));
}

TEST(PlanStackNetworksTest, ACreateRequestForAnotherNameOrStackIsRefused) {
  auto renamed = stackNetwork("a", "web_a", false);
  renamed.create.name = "other";
  auto foreign = stackNetwork("b", "web_b", false);
  foreign.create.labels[api::kStackNamespaceLabel] = "db";
  auto refused = planStackNetworks("web", {renamed, foreign}, {}, {});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::InvalidArgument);
  EXPECT_THAT(refused.error().message,
              HasSubstr("the network to create is named \"other\", not \"web_a\""));
  EXPECT_THAT(refused.error().message,
              HasSubstr("label com.docker.stack.namespace=\"db\" names another stack"));
}

TEST(PlanStackServicesTest, AModeChangeAndADuplicateNameAreRefused) {
  api::Service stored;
  stored.id = "svc00000000000000000000001";
  stored.spec.name = "web_web";
  stored.spec.command = {"sleep", "60"};
  stored.spec.labels[api::kStackNamespaceLabel] = "web";
  api::ServiceSpec global = stored.spec;
  global.mode = "global";
  auto refused = planStackServices("web", {global, global}, {stored}, false,
                                   {{"web_web", "web.yml:3: services.web"}});
  ASSERT_FALSE(refused);
  EXPECT_THAT(refused.error().message,
              ::testing::StartsWith("web.yml:3: services.web: service web_web: deploy.mode"));
  EXPECT_EQ(refused.error().kind, ErrorKind::InvalidArgument);
  EXPECT_THAT(refused.error().message,
              HasSubstr("service web_web: deploy.mode \"global\" differs from the service's "
                        "mode replicated"));
  EXPECT_THAT(refused.error().message, HasSubstr("service \"web_web\" is given twice"));
}

TEST(PlanStackServicesTest, ComparesOnTheStoredFormOfTheImage) {
  api::Service stored;
  stored.id = "svc00000000000000000000001";
  stored.spec.name = "web_web";
  stored.spec.labels[api::kStackNamespaceLabel] = "web";
  stored.spec.container.image = "docker.io/library/web:1";
  // The manager passes the stored form (storedServiceSpec, once per deploy): "web:1" as
  // the record holds it equals the stored image.
  api::ServiceSpec desired = stored.spec;
  desired.container.image = "web:1";
  auto storedForm = storedServiceSpec(desired);
  ASSERT_TRUE(storedForm) << storedForm.error().message;
  auto plan = planStackServices("web", {*storedForm}, {stored}, false);
  ASSERT_TRUE(plan) << plan.error().message;
  EXPECT_THAT(plan->unchanged, ElementsAre("web_web"));
  desired.container.image = "web:2";
  storedForm = storedServiceSpec(desired);
  ASSERT_TRUE(storedForm) << storedForm.error().message;
  plan = planStackServices("web", {*storedForm}, {stored}, false);
  ASSERT_TRUE(plan) << plan.error().message;
  ASSERT_EQ(plan->toUpdate.size(), 1u);
  EXPECT_EQ(plan->toUpdate[0].spec.container.image, "docker.io/library/web:2");
  EXPECT_EQ(plan->toUpdate[0].previous.container.image, "docker.io/library/web:1");
}

TEST(PlanStackServicesTest, ComparesTheSpecsAsGivenWithoutNormalisingThemAgain) {
  api::Service stored;
  stored.id = "svc00000000000000000000001";
  stored.spec.name = "web_web";
  stored.spec.labels[api::kStackNamespaceLabel] = "web";
  stored.spec.container.image = "docker.io/library/web:1";
  api::ServiceSpec raw = stored.spec;
  raw.container.image = "web:1";  // not the stored form: the plan does not normalise it
  auto plan = planStackServices("web", {raw}, {stored}, false);
  ASSERT_TRUE(plan) << plan.error().message;
  EXPECT_EQ(plan->toUpdate.size(), 1u);
}

}  // namespace
}  // namespace overmesh::manager
