#include "manager/service_manager.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "common/clock.h"
#include "common/ids.h"
#include "common/json.h"
#include "manager/cluster_manager.h"
#include "manager/network_manager.h"
#include "manager/node_manager.h"
#include "manager/service_reconciler.h"
#include "manager/task_manager.h"
#include "orchestrator/orchestrator.h"
#include "state/keys.h"
#include "store/sqlite/sqlite_store.h"
#include "support/scratch.h"

namespace overmesh::manager {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

class ServiceManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = store::SqliteStore::open((dir_.path() / "store.db").string(), clock_);
    ASSERT_TRUE(store) << store.error().message;
    store_ = std::move(*store);
    ClusterManager clusters(*store_);
    auto created = clusters.init({}, {"h1", "198.18.0.1", "198.18.0.1:2377"});
    ASSERT_TRUE(created);
    managerNode_ = created->node;
    putNode("n2", "h2", "ready");
    putNode("n3", "h3", "down");
    networks_ = std::make_unique<NetworkManager>(*store_);
    tasks_ = std::make_unique<TaskManager>(*store_);
    services_ = std::make_unique<ServiceManager>(*store_);
    api::NetworkCreateRequest front;
    front.name = "front";
    front.subnet = "10.0.20.0/24";
    front.attachable = true;
    ASSERT_TRUE(networks_->create(front));
    api::NetworkCreateRequest back;
    back.name = "back";
    back.subnet = "10.0.21.0/29";  // .1 gateway, .2-.6 for hosts
    ASSERT_TRUE(networks_->create(back));
  }

  void TearDown() override { store_->close(); }

  void putNode(const std::string& id, const std::string& hostname, const std::string& state) {
    api::Node node;
    node.id = id;
    node.hostname = hostname;
    node.address = "198.18.0.9";
    node.role = "worker";
    node.state = state;
    ASSERT_TRUE(store_->put(state::keys::node(id), encodeJson(node)));
  }

  static api::ServiceSpec spec(std::string name, std::vector<std::string> networks = {"front"}) {
    api::ServiceSpec result;
    result.name = std::move(name);
    result.replicas = 2;
    result.command = {"httpd", "-f"};
    for (auto& network : networks) {
      result.networks.push_back({std::move(network), {}});
    }
    return result;
  }

  api::Task storedTask(const std::string& id) {
    auto record = store_->get(state::keys::task(id));
    EXPECT_TRUE(record && *record);
    return *decodeJson<api::Task>((*record)->value, "task");
  }

  std::vector<api::Task> serviceTasks(const std::string& serviceId) {
    std::vector<api::Task> found;
    auto all = tasks_->list();
    EXPECT_TRUE(all);
    for (auto& task : *all) {
      if (task.serviceId == serviceId) {
        found.push_back(task);
      }
    }
    return found;
  }

  store::Revision revision() { return *store_->currentRevision(); }

  ManualClock clock_;
  testing::ScratchDir dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<NetworkManager> networks_;
  std::unique_ptr<TaskManager> tasks_;
  std::unique_ptr<ServiceManager> services_;
  api::Node managerNode_;
};

RunRequest standalone(std::string name) {
  return RunRequest{std::move(name), {"front"}, std::nullopt, {"sleep", "60"}};
}

TEST_F(ServiceManagerTest, CreateAllocatesOneVipPerNetworkAndStoresTheServiceAndItsName) {
  auto service = services_->create(spec("web", {"front", "back"}));
  ASSERT_TRUE(service) << service.error().message;
  EXPECT_EQ(service->id.size(), 25u);
  EXPECT_EQ(service->version, 1);
  ASSERT_EQ(service->attachments.size(), 2u);
  EXPECT_EQ(service->attachments[0].networkName, "front");
  EXPECT_EQ(service->attachments[1].networkName, "back");
  ASSERT_EQ(service->vips.size(), 2u);
  EXPECT_EQ(service->vips[0].address, "10.0.20.2/24");
  EXPECT_EQ(service->vips[1].address, "10.0.21.2/29");
  EXPECT_EQ(service->vips[0].networkId, service->attachments[0].networkId);

  auto stored = services_->inspect("web");
  ASSERT_TRUE(stored);
  EXPECT_EQ(encodeJson(*stored), encodeJson(*service));
  auto name = store_->get(state::keys::serviceName("web"));
  ASSERT_TRUE(name && *name);
  EXPECT_EQ((*name)->value, service->id);
  EXPECT_TRUE(services_->inspect(service->id.substr(0, 6)));
}

TEST_F(ServiceManagerTest, DnsrrServicesGetNoVip) {
  auto request = spec("db");
  request.endpointMode = "dnsrr";
  auto service = services_->create(request);
  ASSERT_TRUE(service);
  EXPECT_TRUE(service->vips.empty());
  EXPECT_EQ(service->attachments.size(), 1u);
}

TEST_F(ServiceManagerTest, VipsAvoidTaskAddressesAndOtherVipsAndTasksAvoidVips) {
  auto first = tasks_->run(standalone("solo"));
  ASSERT_TRUE(first);
  EXPECT_EQ(first->attachments[0].address, "10.0.20.2/24");
  auto web = services_->create(spec("web"));
  ASSERT_TRUE(web);
  EXPECT_EQ(web->vips[0].address, "10.0.20.3/24");
  auto api = services_->create(spec("api"));
  ASSERT_TRUE(api);
  EXPECT_EQ(api->vips[0].address, "10.0.20.4/24");
  auto second = tasks_->run(standalone("solo2"));
  ASSERT_TRUE(second);
  EXPECT_EQ(second->attachments[0].address, "10.0.20.5/24");
}

TEST_F(ServiceManagerTest, CreateRefusesATakenNameAndWritesNothing) {
  ASSERT_TRUE(services_->create(spec("web")));
  auto before = revision();
  auto refused = services_->create(spec("web"));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::Conflict);
  EXPECT_THAT(refused.error().message, HasSubstr("a service named web already exists"));
  EXPECT_EQ(revision(), before);
}

TEST_F(ServiceManagerTest, CreateRefusesBadSpecsAndNetworksAndWritesNothing) {
  auto before = revision();
  auto badReplicas = spec("web");
  badReplicas.replicas = 5000;
  auto refused = services_->create(badReplicas);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::InvalidArgument);
  EXPECT_THAT(refused.error().message, StartsWith("service create: --replicas 5000"));

  auto unknown = services_->create(spec("web", {"nope"}));
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().kind, ErrorKind::NotFound);
  EXPECT_THAT(unknown.error().message, HasSubstr("network nope not found"));

  auto twice = services_->create(spec("web", {"front", "front"}));
  ASSERT_FALSE(twice);
  EXPECT_THAT(twice.error().message, HasSubstr("--network front is given twice"));
  EXPECT_EQ(revision(), before);
}

TEST_F(ServiceManagerTest, CreateFailsWhenTheSubnetHasNoAddressForAVip) {
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(services_->create(spec("s" + std::to_string(i), {"back"})));
  }
  auto before = revision();
  auto refused = services_->create(spec("full", {"back"}));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::FailedPrecondition);
  EXPECT_THAT(refused.error().message, HasSubstr("network back"));
  EXPECT_EQ(revision(), before);
}

TEST_F(ServiceManagerTest, ListIsOrderedByName) {
  ASSERT_TRUE(services_->create(spec("zeta")));
  ASSERT_TRUE(services_->create(spec("alpha")));
  auto list = services_->list();
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].spec.name, "alpha");
  EXPECT_EQ((*list)[1].spec.name, "zeta");
}

TEST_F(ServiceManagerTest, ScalingRestartAndLabelsDoNotBumpTheVersion) {
  auto web = services_->create(spec("web"));
  ASSERT_TRUE(web);
  api::ServiceUpdateRequest request{web->spec, web->updateIndex, false};
  request.spec.replicas = 5;
  request.spec.restartPolicy.condition = "none";
  request.spec.updateConfig.parallelism = 2;
  request.spec.labels["team"] = "a";
  request.spec.endpointMode = "dnsrr";
  auto updated = services_->update("web", request);
  ASSERT_TRUE(updated) << updated.error().message;
  EXPECT_EQ(updated->version, 1);
  EXPECT_EQ(updated->updateIndex, 2) << "every update moves the update index";
  EXPECT_EQ(updated->spec.replicas, 5);
  EXPECT_TRUE(updated->vips.empty()) << "dnsrr releases the VIPs";
  EXPECT_EQ(services_->inspect("web")->spec.replicas, 5);
}

TEST_F(ServiceManagerTest, EachTaskAffectingChangeBumpsTheVersion) {
  auto web = services_->create(spec("web"));
  ASSERT_TRUE(web);
  std::vector<std::function<void(api::ServiceSpec&)>> changes = {
      [](auto& s) {
        s.command = {"httpd", "-v"};
      },
      [](auto& s) { s.env = {"A=1"}; },
      [](auto& s) { s.networks[0].aliases = {"www"}; },
      [](auto& s) { s.constraints = {"node.role==worker"}; },
      [](auto& s) {
        s.healthCheck = api::HealthCheck{{"true"}, 1000, 1000, 3, 0};
      },
      [](auto& s) { s.healthCheck->retries = 4; },
      [](auto& s) { s.stopGracePeriodMs = 1; },
      [](auto& s) { s.container.image = "web:1"; },
      [](auto& s) { s.container.image = "web:2"; },
      [](auto& s) {
        s.container.mounts = {{"volume", "data", "/data", false}};
      },
      [](auto& s) { s.container.readOnly = true; },
      [](auto& s) { s.container.stopSignal = "SIGQUIT"; },
  };
  std::int64_t version = web->version;
  std::int64_t index = web->updateIndex;
  api::ServiceSpec current = web->spec;
  for (std::size_t i = 0; i < changes.size(); ++i) {
    changes[i](current);
    auto updated = services_->update("web", {current, index, false});
    ASSERT_TRUE(updated) << i << ": " << updated.error().message;
    EXPECT_EQ(updated->version, version + 1) << "change " << i;
    EXPECT_EQ(updated->updateIndex, index + 1) << "change " << i;
    version = updated->version;
    index = updated->updateIndex;
  }
  auto forced = services_->update("web", {current, index, true});
  ASSERT_TRUE(forced);
  EXPECT_EQ(forced->version, version + 1);
}

TEST_F(ServiceManagerTest, AStaleUpdateIndexIsAConflictAndChangesNothing) {
  auto web = services_->create(spec("web"));
  ASSERT_TRUE(web);
  EXPECT_EQ(web->updateIndex, 1);
  auto changed = web->spec;
  changed.command = {"other"};
  ASSERT_TRUE(services_->update("web", {changed, 1, false}));
  auto before = revision();
  auto stale = services_->update("web", {web->spec, 1, false});
  ASSERT_FALSE(stale);
  EXPECT_EQ(stale.error().kind, ErrorKind::Conflict);
  EXPECT_THAT(stale.error().message,
              HasSubstr("service web was changed by someone else (read at update index 1, "
                        "now 2); read it again and retry"));
  EXPECT_EQ(revision(), before);
}

// `service scale web=6` and `service update --update-parallelism 2`, both read at one
// index: neither changes what the tasks run (the version stays 1), and still the second
// must not overwrite the first.
TEST_F(ServiceManagerTest, TwoUpdatesReadAtOneIndexConflictEvenWhenNeitherBumpsTheVersion) {
  auto web = services_->create(spec("web"));
  ASSERT_TRUE(web);
  auto scaled = web->spec;
  scaled.replicas = 6;
  auto parallel = web->spec;
  parallel.updateConfig.parallelism = 2;
  auto first = services_->update("web", {scaled, web->updateIndex, false});
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_EQ(first->version, web->version);
  auto before = revision();
  auto second = services_->update("web", {parallel, web->updateIndex, false});
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().kind, ErrorKind::Conflict);
  EXPECT_EQ(revision(), before);
  auto stored = services_->inspect("web");
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->spec.replicas, 6) << "the scale is not lost";
  EXPECT_EQ(stored->spec.updateConfig.parallelism, 1);

  // Re-read and re-applied, as the CLI does on Conflict: both changes stand.
  parallel = stored->spec;
  parallel.updateConfig.parallelism = 2;
  auto retried = services_->update("web", {parallel, stored->updateIndex, false});
  ASSERT_TRUE(retried) << retried.error().message;
  EXPECT_EQ(retried->spec.replicas, 6);
  EXPECT_EQ(retried->spec.updateConfig.parallelism, 2);
  EXPECT_EQ(retried->updateIndex, 3);
  EXPECT_EQ(retried->version, 1);
}

TEST_F(ServiceManagerTest, NameAndModeCannotChange) {
  auto web = services_->create(spec("web"));
  ASSERT_TRUE(web);
  auto renamed = web->spec;
  renamed.name = "www";
  auto refused = services_->update("web", {renamed, 1, false});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::InvalidArgument);
  EXPECT_THAT(refused.error().message, HasSubstr("cannot be renamed"));
  auto global = web->spec;
  global.mode = "global";
  global.replicas = 1;
  refused = services_->update("web", {global, 1, false});
  ASSERT_FALSE(refused);
  EXPECT_THAT(refused.error().message, HasSubstr("--mode \"global\""));
}

TEST_F(ServiceManagerTest, ANetworkAddedGetsAVipAndOneRemovedReleasesIt) {
  auto web = services_->create(spec("web", {"front"}));
  ASSERT_TRUE(web);
  auto both = web->spec;
  both.networks.push_back({"back", {}});
  auto added = services_->update("web", {both, 1, false});
  ASSERT_TRUE(added) << added.error().message;
  EXPECT_EQ(added->version, 2);
  ASSERT_EQ(added->vips.size(), 2u);
  EXPECT_EQ(added->vips[0].address, web->vips[0].address) << "kept";
  EXPECT_EQ(added->vips[1].address, "10.0.21.2/29");

  auto onlyBack = both;
  onlyBack.networks.erase(onlyBack.networks.begin());
  auto removed = services_->update("web", {onlyBack, 2, false});
  ASSERT_TRUE(removed);
  ASSERT_EQ(removed->vips.size(), 1u);
  EXPECT_EQ(removed->vips[0].address, "10.0.21.2/29");
  auto task = tasks_->run(standalone("reuses"));
  ASSERT_TRUE(task);
  EXPECT_EQ(task->attachments[0].address, web->vips[0].address) << "the released VIP is free";
}

TEST_F(ServiceManagerTest, RemoveDeletesTheRecordAndNameAndReleasesTheVips) {
  auto web = services_->create(spec("web"));
  ASSERT_TRUE(web);
  auto removed = services_->remove("web");
  ASSERT_TRUE(removed);
  EXPECT_EQ(removed->id, web->id);
  EXPECT_EQ(services_->inspect("web").error().kind, ErrorKind::NotFound);
  auto name = store_->get(state::keys::serviceName("web"));
  ASSERT_TRUE(name);
  EXPECT_FALSE(*name);
  auto task = tasks_->run(standalone("after"));
  ASSERT_TRUE(task);
  EXPECT_EQ(task->attachments[0].address, web->vips[0].address);
  EXPECT_TRUE(services_->create(spec("web"))) << "the name is free again";
  EXPECT_EQ(services_->remove("nope").error().kind, ErrorKind::NotFound);
}

TEST_F(ServiceManagerTest, NetworkRmRefusesWhileAServiceUsesItNamingTheServices) {
  ASSERT_TRUE(services_->create(spec("web", {"back"})));
  ASSERT_TRUE(services_->create(spec("api", {"front", "back"})));
  auto before = revision();
  auto refused = networks_->remove("back");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::FailedPrecondition);
  EXPECT_THAT(refused.error().message,
              HasSubstr("network back is in use by service(s) api, web; remove them first "
                        "(`overmesh service rm api web`)"));
  EXPECT_EQ(revision(), before);
  ASSERT_TRUE(services_->remove("web"));
  ASSERT_TRUE(services_->remove("api"));
  EXPECT_TRUE(networks_->remove("back"));
}

TEST_F(ServiceManagerTest, ApplyCreatesTasksWithNamesAddressesAndTheSpecsFields) {
  auto request = spec("web", {"front", "back"});
  request.env = {"PORT=80"};
  request.healthCheck = api::HealthCheck{{"true"}, 1000, 1000, 3, 0};
  request.stopGracePeriodMs = 2500;
  auto web = services_->create(request);
  ASSERT_TRUE(web);
  orchestrator::Decisions decisions;
  decisions.create = {{web->id, 1, "n2", 1}, {web->id, 2, managerNode_.id, 1}};
  ASSERT_TRUE(services_->apply(decisions));

  auto tasks = serviceTasks(web->id);
  ASSERT_EQ(tasks.size(), 2u);
  std::set<std::string> addresses;
  for (const auto& task : tasks) {
    EXPECT_EQ(task.name, fmt::format("web.{}.{}", task.slot, task.id));
    EXPECT_EQ(task.serviceName, "web");
    EXPECT_EQ(task.specVersion, 1);
    EXPECT_EQ(task.desiredState, "running");
    EXPECT_EQ(task.state, "pending");
    EXPECT_EQ(task.message, "assigned to " + task.nodeName);
    EXPECT_EQ(task.health, "starting");
    EXPECT_EQ(task.command, request.command);
    EXPECT_EQ(task.env, request.env);
    EXPECT_EQ(task.stopGracePeriodMs, 2500);
    ASSERT_TRUE(task.healthCheck);
    EXPECT_GT(task.updatedAtMs, 0);
    ASSERT_EQ(task.attachments.size(), 2u);
    EXPECT_EQ(task.attachments[0].networkName, "front");
    EXPECT_EQ(task.attachments[1].networkName, "back");
    for (const auto& attachment : task.attachments) {
      EXPECT_TRUE(addresses.insert(attachment.address).second);
      EXPECT_FALSE(attachment.mac.empty());
    }
    auto name = store_->get(state::keys::taskName(task.name));
    ASSERT_TRUE(name && *name);
    EXPECT_EQ((*name)->value, task.id);
  }
  for (const auto& vip : web->vips) {
    EXPECT_FALSE(addresses.contains(vip.address)) << vip.address << " is the VIP";
  }
  std::set<std::string> nodes = {tasks[0].nodeName, tasks[1].nodeName};
  EXPECT_EQ(nodes, (std::set<std::string>{"h1", "h2"}));
}

TEST_F(ServiceManagerTest, TheContainerSpecIsStoredNormalisedAndCopiedIntoEachTask) {
  auto request = spec("web");
  request.command.clear();  // the image's CMD runs
  request.container.image = "nginx:1.25";
  request.container.workdir = "/srv/";
  request.container.stopSignal = "TERM";
  request.container.mounts = {{"volume", "", "/cache/", false}};
  auto web = services_->create(request);
  ASSERT_TRUE(web) << web.error().message;
  EXPECT_EQ(web->spec.container.image, "docker.io/library/nginx:1.25");
  EXPECT_EQ(web->spec.container.workdir, "/srv");
  EXPECT_EQ(web->spec.container.stopSignal, "SIGTERM");
  EXPECT_EQ(web->spec.container.mounts[0].target, "/cache");
  EXPECT_EQ(services_->inspect("web")->spec.container, web->spec.container);

  orchestrator::Decisions decisions;
  decisions.create = {{web->id, 1, "n2", 1}};
  ASSERT_TRUE(services_->apply(decisions));
  auto tasks = serviceTasks(web->id);
  ASSERT_EQ(tasks.size(), 1u);
  EXPECT_EQ(tasks[0].container, web->spec.container);
  EXPECT_TRUE(tasks[0].command.empty());
}

TEST_F(ServiceManagerTest, TheSameImageTypedAnotherWayDoesNotRollTheTasks) {
  auto request = spec("web");
  request.container.image = "docker.io/library/web:1";
  auto web = services_->create(request);
  ASSERT_TRUE(web) << web.error().message;
  api::ServiceSpec same = web->spec;
  same.container.image = "web:1";

  auto updated = services_->update("web", {same, web->updateIndex, false});

  ASSERT_TRUE(updated) << updated.error().message;
  EXPECT_EQ(updated->version, web->version);
  EXPECT_EQ(updated->spec.container.image, "docker.io/library/web:1");
}

TEST_F(ServiceManagerTest, ABadContainerSpecIsRefusedAndNothingIsWritten) {
  auto before = revision();
  auto request = spec("web");
  request.container.image = "web";
  request.container.user = "Root";
  auto refused = services_->create(request);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::InvalidArgument);
  EXPECT_THAT(refused.error().message, HasSubstr("--user \"Root\""));

  request = spec("web");
  request.command.clear();
  refused = services_->create(request);
  ASSERT_FALSE(refused);
  EXPECT_THAT(refused.error().message, HasSubstr("give --image IMAGE, or a command after --"));
  EXPECT_EQ(revision(), before);
}

TEST_F(ServiceManagerTest, GlobalTasksAreNamedAfterTheirNode) {
  auto request = spec("agent");
  request.mode = "global";
  request.replicas = 1;
  auto service = services_->create(request);
  ASSERT_TRUE(service) << service.error().message;
  orchestrator::Decisions decisions;
  decisions.create = {{service->id, 0, "n2", 1}};
  ASSERT_TRUE(services_->apply(decisions));
  auto tasks = serviceTasks(service->id);
  ASSERT_EQ(tasks.size(), 1u);
  EXPECT_EQ(tasks[0].name, "agent.n2." + tasks[0].id);
  EXPECT_EQ(tasks[0].health, "") << "no health check";
}

TEST_F(ServiceManagerTest, ApplySkipsCreatesThatNoLongerFit) {
  auto web = services_->create(spec("web"));
  ASSERT_TRUE(web);
  orchestrator::Decisions decisions;
  decisions.create = {{web->id, 1, "n3", 1},    // n3 is down
                      {web->id, 2, "gone", 1},  // no such node
                      {web->id, 1, "n2", 7},    // another spec version
                      {web->id, 3, "n2", 1},    // above replicas (2)
                      {"no-such-service", 1, "n2", 1}};
  auto before = revision();
  ASSERT_TRUE(services_->apply(decisions));
  EXPECT_EQ(revision(), before);
  EXPECT_TRUE(serviceTasks(web->id).empty());
}

// The orchestrator decides on a view; a scale-down that lands before its decisions are
// applied leaves the version as it was, and still no task is created above the count.
TEST_F(ServiceManagerTest, AScaleDownBetweenTheViewAndTheApplyCreatesNoTaskAboveTheCount) {
  auto request = spec("web");
  request.replicas = 3;
  auto web = services_->create(request);
  ASSERT_TRUE(web);
  auto read = services_->readView(nowMillis());
  ASSERT_TRUE(read) << read.error().message;
  orchestrator::Decisions decisions = orchestrator::reconcile(read->view);
  ASSERT_EQ(decisions.create.size(), 3u);

  auto scaled = web->spec;
  scaled.replicas = 1;
  auto updated = services_->update("web", {scaled, web->updateIndex, false});
  ASSERT_TRUE(updated) << updated.error().message;
  ASSERT_EQ(updated->version, web->version) << "a scale does not bump the version";
  ASSERT_TRUE(services_->apply(decisions));

  auto tasks = serviceTasks(web->id);
  ASSERT_EQ(tasks.size(), 1u);
  EXPECT_EQ(tasks[0].slot, 1);
}

// For a global service a create is re-checked against the node as it is now: its labels
// must still satisfy the constraints, and it must not already have a task of the version
// that should run (made meanwhile, or twice in one batch).
TEST_F(ServiceManagerTest, GlobalCreatesAreSkippedOnANodeThatNoLongerMatchesOrHasTheTask) {
  NodeManager nodes(*store_, clock_, managerNode_.id);
  ASSERT_TRUE(nodes.load());
  ASSERT_TRUE(nodes.updateLabels("h2", {{{"zone", "a"}}, {}}));
  auto request = spec("agent");
  request.mode = "global";
  request.replicas = 1;
  request.constraints = {"node.labels.zone==a"};
  auto agent = services_->create(request);
  ASSERT_TRUE(agent) << agent.error().message;
  auto read = services_->readView(nowMillis());
  ASSERT_TRUE(read) << read.error().message;
  orchestrator::Decisions decisions = orchestrator::reconcile(read->view);
  ASSERT_EQ(decisions.create.size(), 1u);
  ASSERT_EQ(decisions.create[0].nodeId, "n2");

  ASSERT_TRUE(nodes.updateLabels("h2", {{}, {"zone"}}));
  auto before = revision();
  ASSERT_TRUE(services_->apply(decisions));
  EXPECT_EQ(revision(), before) << "n2 lost the label: nothing created";
  EXPECT_TRUE(serviceTasks(agent->id).empty());

  ASSERT_TRUE(nodes.updateLabels("h2", {{{"zone", "a"}}, {}}));
  decisions.create.push_back(decisions.create[0]);  // the same node twice in one batch
  ASSERT_TRUE(services_->apply(decisions));
  EXPECT_EQ(serviceTasks(agent->id).size(), 1u);
  before = revision();
  ASSERT_TRUE(services_->apply(decisions));  // a stale repeat: n2 already has it
  EXPECT_EQ(revision(), before);
  EXPECT_EQ(serviceTasks(agent->id).size(), 1u);
}

TEST_F(ServiceManagerTest, ApplyCreatesStopWhenTheSubnetIsFullWithoutTakingAVip) {
  auto request = spec("web", {"back"});  // VIP .2; .3-.6 left
  request.replicas = 6;
  auto web = services_->create(request);
  ASSERT_TRUE(web);
  orchestrator::Decisions decisions;
  for (int slot = 1; slot <= 6; ++slot) {
    decisions.create.push_back({web->id, slot, "n2", 1});
  }
  ASSERT_TRUE(services_->apply(decisions));
  auto tasks = serviceTasks(web->id);
  EXPECT_EQ(tasks.size(), 4u);
  for (const auto& task : tasks) {
    EXPECT_NE(task.attachments[0].address, web->vips[0].address);
  }
}

TEST_F(ServiceManagerTest, ApplyShutsTasksDownWithTheReason) {
  auto web = services_->create(spec("web"));
  ASSERT_TRUE(web);
  orchestrator::Decisions create;
  create.create = {{web->id, 1, "n2", 1}, {web->id, 2, "n2", 1}};
  ASSERT_TRUE(services_->apply(create));
  auto tasks = serviceTasks(web->id);
  ASSERT_EQ(tasks.size(), 2u);

  orchestrator::Decisions stop;
  stop.shutDown = {{tasks[0].id, "scaled down"}, {"no-such-task", "gone"}};
  ASSERT_TRUE(services_->apply(stop));
  auto stopped = storedTask(tasks[0].id);
  EXPECT_EQ(stopped.desiredState, "shutdown");
  EXPECT_EQ(stopped.message, "scaled down");
  EXPECT_GE(stopped.updatedAtMs, tasks[0].updatedAtMs);
  EXPECT_EQ(storedTask(tasks[1].id).desiredState, "running");

  auto before = revision();
  ASSERT_TRUE(services_->apply(stop));
  EXPECT_EQ(revision(), before) << "a task already shut down is left alone";
}

TEST_F(ServiceManagerTest, ApplyRemovesOnlyHistoryRecordsAndTheirNames) {
  auto web = services_->create(spec("web"));
  ASSERT_TRUE(web);
  orchestrator::Decisions create;
  create.create = {{web->id, 1, "n2", 1}, {web->id, 2, "n2", 1}};
  ASSERT_TRUE(services_->apply(create));
  auto tasks = serviceTasks(web->id);
  ASSERT_EQ(tasks.size(), 2u);
  orchestrator::Decisions stop;
  stop.shutDown = {{tasks[0].id, "old"}};
  ASSERT_TRUE(services_->apply(stop));

  orchestrator::Decisions remove;
  remove.remove = {tasks[0].id, tasks[1].id};
  ASSERT_TRUE(services_->apply(remove));
  auto left = serviceTasks(web->id);
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].id, tasks[1].id) << "a task that should run is never deleted";
  auto name = store_->get(state::keys::taskName(tasks[0].name));
  ASSERT_TRUE(name);
  EXPECT_FALSE(*name);
}

TEST_F(ServiceManagerTest, ShutDownAndTerminalTasksFreeTheirAddressForNewTasks) {
  auto web = services_->create(spec("web", {"back"}));
  ASSERT_TRUE(web);
  orchestrator::Decisions create;
  create.create = {{web->id, 1, "n2", 1}};
  ASSERT_TRUE(services_->apply(create));
  auto old = serviceTasks(web->id).at(0);
  orchestrator::Decisions stop;
  stop.shutDown = {{old.id, "failed"}};
  ASSERT_TRUE(services_->apply(stop));
  ASSERT_TRUE(tasks_->reportStatus({old.id, "n2", "failed", "exit 1", 1, ""}));
  ASSERT_TRUE(services_->apply(create));
  for (const auto& task : serviceTasks(web->id)) {
    if (task.id != old.id) {
      EXPECT_EQ(task.attachments[0].address, old.attachments[0].address);
    }
  }
}

TEST_F(ServiceManagerTest, ApplyWritesPlacementProblems) {
  auto web = services_->create(spec("web"));
  ASSERT_TRUE(web);
  orchestrator::Decisions decisions;
  decisions.placementProblems = {{web->id, "no suitable node"}};
  ASSERT_TRUE(services_->apply(decisions));
  EXPECT_EQ(services_->inspect("web")->placementProblem, "no suitable node");
  decisions.placementProblems = {{web->id, ""}};
  ASSERT_TRUE(services_->apply(decisions));
  EXPECT_EQ(services_->inspect("web")->placementProblem, "");
}

TEST_F(ServiceManagerTest, NetworkDetailListsServicesWithVipsAndLiveEndpoints) {
  auto web = services_->create(spec("web", {"front"}));
  ASSERT_TRUE(web);
  auto dnsrr = spec("db", {"front"});
  dnsrr.endpointMode = "dnsrr";
  dnsrr.networks[0].aliases = {"database"};
  ASSERT_TRUE(services_->create(dnsrr));
  ASSERT_TRUE(tasks_->run(standalone("solo")));
  orchestrator::Decisions create;
  create.create = {{web->id, 1, "n2", 1}};
  ASSERT_TRUE(services_->apply(create));

  auto detail = networks_->inspectDetail("front");
  ASSERT_TRUE(detail) << detail.error().message;
  EXPECT_EQ(detail->network.name, "front");
  ASSERT_EQ(detail->services.size(), 2u);
  EXPECT_EQ(detail->services[0].name, "db");
  EXPECT_EQ(detail->services[0].vip, "");
  EXPECT_EQ(detail->services[0].aliases, (std::vector<std::string>{"database"}));
  EXPECT_EQ(detail->services[1].name, "web");
  EXPECT_EQ(detail->services[1].vip, web->vips[0].address);
  ASSERT_EQ(detail->endpoints.size(), 2u);
  EXPECT_EQ(detail->endpoints[0].taskName, "solo");
  EXPECT_EQ(detail->endpoints[0].serviceName, "");
  EXPECT_EQ(detail->endpoints[1].serviceName, "web");
  EXPECT_EQ(detail->endpoints[1].nodeName, "h2");

  // The JSON is a Network's plus two fields: a client that reads a Network still can.
  std::string json = encodeJson(*detail);
  auto asNetwork = decodeJson<api::Network>(json, "network");
  ASSERT_TRUE(asNetwork);
  EXPECT_EQ(encodeJson(*asNetwork), encodeJson(detail->network));
  auto back = decodeJson<api::NetworkDetail>(json, "network");
  ASSERT_TRUE(back);
  EXPECT_EQ(encodeJson(*back), json);
}

TEST_F(ServiceManagerTest, NodeLabelsAreAddedReplacedAndRemoved) {
  NodeManager nodes(*store_, clock_, managerNode_.id);
  ASSERT_TRUE(nodes.load());
  auto node = nodes.updateLabels("h2", {{{"zone", "a"}, {"disk", "ssd"}}, {}});
  ASSERT_TRUE(node) << node.error().message;
  EXPECT_EQ(node->labels, (api::Labels{{"disk", "ssd"}, {"zone", "a"}}));
  node = nodes.updateLabels("n2", {{{"zone", "b"}}, {"disk", "absent"}});
  ASSERT_TRUE(node);
  EXPECT_EQ(node->labels, (api::Labels{{"zone", "b"}}));
  auto stored = store_->get(state::keys::node("n2"));
  auto decoded = decodeJson<api::Node>((*stored)->value, "node");
  EXPECT_EQ(decoded->labels, node->labels);
  EXPECT_EQ(decoded->state, "ready");

  auto before = revision();
  auto bad = nodes.updateLabels("h2", {{{"bad key", "x"}}, {}});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().kind, ErrorKind::InvalidArgument);
  EXPECT_THAT(bad.error().message, HasSubstr("--label-add key \"bad key\""));
  auto both = nodes.updateLabels("h2", {{{"zone", "x"}}, {"zone"}});
  ASSERT_FALSE(both);
  EXPECT_THAT(both.error().message, HasSubstr("both added"));
  EXPECT_EQ(nodes.updateLabels("nope", {}).error().kind, ErrorKind::NotFound);
  EXPECT_EQ(revision(), before);
}

// ---- the orchestration loop, with a hand-written decide function ----

class ServiceReconcilerTest : public ServiceManagerTest {
 protected:
  // Creates the missing slots of every replicated service on n2 (a minimal orchestrator,
  // so that the loop's own behaviour is what is tested).
  orchestrator::Decisions fillSlots(const orchestrator::ClusterView& view) {
    std::lock_guard lock(mutex_);
    ++passes_;
    lastView_ = view;
    orchestrator::Decisions decisions;
    for (const auto& service : view.services) {
      for (std::int64_t slot = 1; slot <= service.spec.replicas; ++slot) {
        bool present = std::any_of(view.tasks.begin(), view.tasks.end(), [&](const auto& t) {
          return t.serviceId == service.id && t.slot == slot && t.desiredState == "running";
        });
        if (!present) {
          decisions.create.push_back({service.id, slot, "n2", service.version});
        }
      }
    }
    return decisions;
  }

  bool waitFor(const std::function<bool()>& condition, std::chrono::milliseconds bound) {
    auto deadline = std::chrono::steady_clock::now() + bound;
    while (std::chrono::steady_clock::now() < deadline) {
      if (condition()) {
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return condition();
  }

  int passes() {
    std::lock_guard lock(mutex_);
    return passes_;
  }

  std::mutex mutex_;
  int passes_ = 0;                      // guarded by mutex_
  orchestrator::ClusterView lastView_;  // guarded by mutex_
};

TEST_F(ServiceReconcilerTest, OnePassReadsTheClusterAndAppliesTheDecisions) {
  auto web = services_->create(spec("web"));
  ASSERT_TRUE(web);
  ServiceReconciler reconciler(*store_, *services_,
                               [this](const auto& view) { return fillSlots(view); });
  auto pass = reconciler.runOnce();
  ASSERT_TRUE(pass) << pass.error().message;
  EXPECT_TRUE(pass->changed);
  EXPECT_EQ(serviceTasks(web->id).size(), 2u);
  {
    std::lock_guard lock(mutex_);
    EXPECT_EQ(lastView_.nodes.size(), 3u);
    EXPECT_EQ(lastView_.services.size(), 1u);
    EXPECT_GT(lastView_.nowMs, 0);
  }
  auto again = reconciler.runOnce();
  ASSERT_TRUE(again);
  EXPECT_FALSE(again->changed);
}

TEST_F(ServiceReconcilerTest, TheLoopReactsToAStoreChangeWithinMilliseconds) {
  ServiceReconciler reconciler(*store_, *services_,
                               [this](const auto& view) { return fillSlots(view); });
  reconciler.start();
  ASSERT_TRUE(waitFor([&] { return passes() >= 1; }, std::chrono::seconds(2)));
  auto start = std::chrono::steady_clock::now();
  auto web = services_->create(spec("web"));
  ASSERT_TRUE(web);
  ASSERT_TRUE(
      waitFor([&] { return serviceTasks(web->id).size() == 2; }, std::chrono::milliseconds(900)))
      << "the loop waits for changes, not for its 1 s safety net";
  auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_LT(elapsed, std::chrono::milliseconds(500));

  // A task shut down (as for a failure) is replaced without any other nudge.
  auto tasks = serviceTasks(web->id);
  orchestrator::Decisions stop;
  stop.shutDown = {{tasks[0].id, "failed"}};
  ASSERT_TRUE(services_->apply(stop));
  EXPECT_TRUE(waitFor(
      [&] {
        auto now = serviceTasks(web->id);
        return now.size() == 3 && std::count_if(now.begin(), now.end(), [](const auto& t) {
                                    return t.desiredState == "running";
                                  }) == 2;
      },
      std::chrono::milliseconds(900)));
  reconciler.requestStop();
  reconciler.join();
}

TEST_F(ServiceReconcilerTest, TheLoopWakesWhenTheOrchestratorAsksToLookAgain) {
  std::atomic<int> calls{0};
  std::atomic<std::int64_t> wakeAt{0};
  ServiceReconciler reconciler(*store_, *services_, [&](const orchestrator::ClusterView& view) {
    orchestrator::Decisions decisions;
    if (++calls == 1) {
      wakeAt = view.nowMs + 100;
      decisions.wakeAtMs = wakeAt.load();
    }
    return decisions;
  });
  reconciler.start();
  ASSERT_TRUE(waitFor([&] { return calls.load() >= 2; }, std::chrono::milliseconds(700)))
      << "woken by wakeAtMs, well before the 1 s idle pass";
  EXPECT_GE(nowMillis(), wakeAt.load());
  reconciler.requestStop();
  reconciler.join();
}

TEST_F(ServiceReconcilerTest, AnExceptionFromDecideDoesNotEndTheLoop) {
  std::atomic<int> calls{0};
  ServiceReconciler reconciler(*store_, *services_, [&](const orchestrator::ClusterView&) {
    if (++calls == 1) {
      throw std::runtime_error("boom");
    }
    return orchestrator::Decisions{};
  });
  reconciler.start();
  EXPECT_TRUE(waitFor([&] { return calls.load() >= 2; }, std::chrono::seconds(2)));
  reconciler.requestStop();
  reconciler.join();
}

}  // namespace
}  // namespace overmesh::manager

namespace overmesh::manager {
namespace {

// ---- the real orchestrator behind the loop: ServiceManager applies what it decides ----

class ServiceOrchestrationTest : public ServiceReconcilerTest {
 protected:
  void SetUp() override {
    ServiceReconcilerTest::SetUp();
    reconciler_ =
        std::make_unique<ServiceReconciler>(*store_, *services_, orchestrator::reconcile);
    reconciler_->start();
  }

  void TearDown() override {
    reconciler_->requestStop();
    reconciler_->join();
    ServiceReconcilerTest::TearDown();
  }

  std::vector<api::Task> running(const std::string& serviceId) {
    std::vector<api::Task> found;
    for (auto& task : serviceTasks(serviceId)) {
      if (task.desiredState == "running") {
        found.push_back(std::move(task));
      }
    }
    return found;
  }

  std::unique_ptr<ServiceReconciler> reconciler_;
};

TEST_F(ServiceOrchestrationTest, ReplicasArePlacedOnReadyNodesWithTheirOwnAddresses) {
  auto request = spec("web");
  request.replicas = 4;
  auto web = services_->create(request);
  ASSERT_TRUE(web);
  ASSERT_TRUE(waitFor([&] { return running(web->id).size() == 4; }, std::chrono::seconds(2)));
  std::set<std::int64_t> slots;
  std::set<std::string> addresses = {web->vips[0].address};
  std::map<std::string, int> perNode;
  for (const auto& task : running(web->id)) {
    slots.insert(task.slot);
    EXPECT_TRUE(addresses.insert(task.attachments.at(0).address).second);
    ++perNode[task.nodeName];
  }
  EXPECT_EQ(slots, (std::set<std::int64_t>{1, 2, 3, 4}));
  EXPECT_EQ(perNode, (std::map<std::string, int>{{"h1", 2}, {"h2", 2}})) << "h3 is down";
}

TEST_F(ServiceOrchestrationTest, TheTasksOfANodeThatGoesDownAreReplacedElsewhere) {
  auto web = services_->create(spec("web"));
  ASSERT_TRUE(web);
  ASSERT_TRUE(waitFor([&] { return running(web->id).size() == 2; }, std::chrono::seconds(2)));
  putNode("n2", "h2", "down");
  ASSERT_TRUE(waitFor(
      [&] {
        auto now = running(web->id);
        return now.size() == 2 && std::all_of(now.begin(), now.end(), [](const auto& t) {
                 return t.nodeName == "h1";
               });
      },
      std::chrono::seconds(2)));
  for (const auto& task : serviceTasks(web->id)) {
    if (task.nodeName == "h2") {
      EXPECT_EQ(task.desiredState, "shutdown");
      EXPECT_THAT(task.message, HasSubstr("h2 is down"));
    }
  }
}

TEST_F(ServiceOrchestrationTest, ScaleDownThenRemoveShutsTheTasksDown) {
  auto request = spec("web");
  request.replicas = 3;
  auto web = services_->create(request);
  ASSERT_TRUE(web);
  ASSERT_TRUE(waitFor([&] { return running(web->id).size() == 3; }, std::chrono::seconds(2)));
  auto scaled = web->spec;
  scaled.replicas = 1;
  auto updated = services_->update("web", {scaled, web->updateIndex, false});
  ASSERT_TRUE(updated);
  ASSERT_TRUE(waitFor([&] { return running(web->id).size() == 1; }, std::chrono::seconds(2)));
  EXPECT_EQ(running(web->id)[0].slot, 1) << "the highest slots go first";

  ASSERT_TRUE(services_->remove("web"));
  ASSERT_TRUE(waitFor([&] { return running(web->id).empty(); }, std::chrono::seconds(2)));
  bool removedReason = false;
  for (const auto& task : serviceTasks(web->id)) {
    removedReason = removedReason || task.message == "service removed";
  }
  EXPECT_TRUE(removedReason);
}

}  // namespace
}  // namespace overmesh::manager

namespace overmesh::manager {
namespace {

TEST_F(ServiceManagerTest, SwitchingFromDnsrrToVipAllocatesVipsWithoutBumpingTheVersion) {
  auto request = spec("db", {"front", "back"});
  request.endpointMode = "dnsrr";
  auto db = services_->create(request);
  ASSERT_TRUE(db);
  ASSERT_TRUE(db->vips.empty());
  auto vip = db->spec;
  vip.endpointMode = "vip";
  auto updated = services_->update("db", {vip, db->updateIndex, false});
  ASSERT_TRUE(updated) << updated.error().message;
  EXPECT_EQ(updated->version, db->version);
  ASSERT_EQ(updated->vips.size(), 2u);
  EXPECT_EQ(updated->vips[0].address, "10.0.20.2/24");
  EXPECT_EQ(updated->vips[1].address, "10.0.21.2/29");
}

TEST_F(ServiceManagerTest, AnUpdateIsValidatedLikeACreateAndChangesNothingWhenBad) {
  auto web = services_->create(spec("web"));
  ASSERT_TRUE(web);
  auto bad = web->spec;
  bad.updateConfig.order = "sideways";
  auto before = revision();
  auto refused = services_->update("web", {bad, web->updateIndex, false});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::InvalidArgument);
  EXPECT_THAT(refused.error().message, StartsWith(R"(service update: --update-order "sideways")"));
  auto unknown = web->spec;
  unknown.networks.push_back({"nope", {}});
  refused = services_->update("web", {unknown, web->updateIndex, false});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::NotFound);
  EXPECT_EQ(services_->update("ghost", {web->spec, 1, false}).error().kind, ErrorKind::NotFound);
  EXPECT_EQ(revision(), before);
}

}  // namespace
}  // namespace overmesh::manager
