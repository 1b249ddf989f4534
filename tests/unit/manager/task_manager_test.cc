#include "manager/task_manager.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <set>
#include <thread>

#include "common/clock.h"
#include "common/json.h"
#include "manager/cluster_manager.h"
#include "manager/network_manager.h"
#include "manager/service_manager.h"
#include "state/keys.h"
#include "store/sqlite/sqlite_store.h"
#include "support/scratch.h"

namespace overmesh::manager {
namespace {

using ::testing::HasSubstr;

class TaskManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = store::SqliteStore::open((dir_.path() / "store.db").string(), clock_);
    ASSERT_TRUE(store) << store.error().message;
    store_ = std::move(*store);
    ClusterManager clusters(*store_);
    auto created = clusters.init({}, {"h1", "198.18.0.1", "198.18.0.1:2377"});
    ASSERT_TRUE(created);
    managerNode_ = created->node;
    addNode("n2", "h2", "ready");
    addNode("n3", "h3", "down");
    networks_ = std::make_unique<NetworkManager>(*store_);
    tasks_ = std::make_unique<TaskManager>(*store_);
    api::NetworkCreateRequest chaos;
    chaos.name = "chaos_net";
    chaos.subnet = "10.0.15.0/24";
    chaos.attachable = true;
    ASSERT_TRUE(networks_->create(chaos));
    api::NetworkCreateRequest closed;
    closed.name = "closed";
    ASSERT_TRUE(networks_->create(closed));
  }

  void TearDown() override {
    store_->close();
  }

  void addNode(const std::string& id, const std::string& hostname, const std::string& state) {
    api::Node node;
    node.id = id;
    node.hostname = hostname;
    node.address = "198.18.0.9";
    node.role = "worker";
    node.state = state;
    ASSERT_TRUE(store_->put(state::keys::node(id), encodeJson(node)));
  }

  RunRequest request(std::string name, std::vector<std::string> networks = {"chaos_net"}) {
    return RunRequest{std::move(name), std::move(networks), std::nullopt, {"sleep", "60"}};
  }

  ManualClock clock_;
  testing::ScratchDir dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<NetworkManager> networks_;
  std::unique_ptr<TaskManager> tasks_;
  api::Node managerNode_;
};

TEST_F(TaskManagerTest, RunAllocatesAddressAndMacAfterTheGateway) {
  auto task = tasks_->run(request("a"));
  ASSERT_TRUE(task) << task.error().message;
  ASSERT_EQ(task->attachments.size(), 1u);
  EXPECT_EQ(task->attachments[0].address, "10.0.15.2/24");
  EXPECT_EQ(task->attachments[0].mac, "02:42:0a:00:0f:02");
  EXPECT_EQ(task->attachments[0].networkName, "chaos_net");
  EXPECT_EQ(task->state, "pending");
  EXPECT_EQ(task->desiredState, "running");
  auto second = tasks_->run(request("b"));
  ASSERT_TRUE(second);
  EXPECT_EQ(second->attachments[0].address, "10.0.15.3/24");
}

TEST_F(TaskManagerTest, TasksSpreadOverReadyNodesOnly) {
  std::set<std::string> nodes;
  for (int i = 0; i < 4; ++i) {
    auto task = tasks_->run(request("t" + std::to_string(i)));
    ASSERT_TRUE(task);
    nodes.insert(task->nodeName);
    EXPECT_NE(task->nodeName, "h3") << "h3 is down";
  }
  EXPECT_EQ(nodes, (std::set<std::string>{"h1", "h2"}));
}

TEST_F(TaskManagerTest, PinnedToANode) {
  auto run = request("pinned");
  run.node = "h2";
  auto task = tasks_->run(run);
  ASSERT_TRUE(task);
  EXPECT_EQ(task->nodeId, "n2");
}

TEST_F(TaskManagerTest, AStacksNetworkIsRefusedWithTheComposeFix) {
  api::NetworkCreateRequest stackNet;
  stackNet.name = "solo_default";
  stackNet.labels = {{"com.docker.stack.namespace", "solo"}};
  ASSERT_TRUE(networks_->create(stackNet));
  auto refused = tasks_->run(request("x", {"solo_default"}));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::FailedPrecondition);
  EXPECT_THAT(refused.error().message,
              HasSubstr("network solo_default is not attachable: stack solo created it"));
  EXPECT_THAT(refused.error().message, HasSubstr("attachable: true"));
}

TEST_F(TaskManagerTest, NonAttachableNetworkIsRefusedAndNothingWritten) {
  auto before = *store_->currentRevision();
  auto refused = tasks_->run(request("x", {"closed"}));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::FailedPrecondition);
  EXPECT_THAT(refused.error().message, HasSubstr("network closed is not attachable"));
  EXPECT_EQ(*store_->currentRevision(), before);
}

TEST_F(TaskManagerTest, BadRequestsAreRefused) {
  auto noCommand = request("x");
  noCommand.command.clear();
  EXPECT_EQ(tasks_->run(noCommand).error().kind, ErrorKind::InvalidArgument);
  EXPECT_EQ(tasks_->run(request("x", {})).error().kind, ErrorKind::InvalidArgument);
  EXPECT_EQ(tasks_->run(request("x", {"nope"})).error().kind, ErrorKind::NotFound);
  EXPECT_EQ(tasks_->run(request("x", {"chaos_net", "chaos_net"})).error().kind,
            ErrorKind::InvalidArgument);
  EXPECT_EQ(tasks_->run(request("bad name")).error().kind, ErrorKind::InvalidArgument);
  ASSERT_TRUE(tasks_->run(request("taken")));
  EXPECT_EQ(tasks_->run(request("taken")).error().kind, ErrorKind::Conflict);
}

TEST_F(TaskManagerTest, AnImageTaskCarriesItsNormalisedContainerSpecAndEnv) {
  auto run = request("web");
  run.command.clear();  // the image's CMD runs
  run.env = {"PORT=80"};
  run.container.image = "198.18.0.101:5000/web:1";
  run.container.entrypoint = {"/bin/httpd", "-f"};
  run.container.stopSignal = "15";
  run.container.init = true;
  run.stopGracePeriodMs = 2500;

  auto task = tasks_->run(run);

  ASSERT_TRUE(task) << task.error().message;
  EXPECT_EQ(task->container.image, "198.18.0.101:5000/web:1");
  EXPECT_EQ(task->container.stopSignal, "SIGTERM");
  EXPECT_TRUE(task->container.init);
  EXPECT_EQ(task->container.entrypoint, run.container.entrypoint);
  EXPECT_EQ(task->env, run.env);
  EXPECT_TRUE(task->command.empty());
  EXPECT_EQ(task->stopGracePeriodMs, 2500);
  auto stored = tasks_->inspect("web");
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->container, task->container);
}

TEST_F(TaskManagerTest, BadContainerSpecOrEnvIsRefusedAndNothingWritten) {
  auto before = *store_->currentRevision();
  auto neither = request("x");
  neither.command.clear();
  auto refused = tasks_->run(neither);
  ASSERT_FALSE(refused);
  EXPECT_THAT(refused.error().message, HasSubstr("give --image IMAGE, or a command after --"));

  auto processWithMount = request("x");
  processWithMount.container.mounts = {{"volume", "", "/data", false}};
  refused = tasks_->run(processWithMount);
  ASSERT_FALSE(refused);
  EXPECT_THAT(refused.error().message, HasSubstr("--mount needs --image"));

  auto badImage = request("x");
  badImage.container.image = "web:";
  refused = tasks_->run(badImage);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::InvalidArgument);
  EXPECT_THAT(refused.error().message, HasSubstr("--image"));

  auto badEnv = request("x");
  badEnv.env = {"1A=x"};
  refused = tasks_->run(badEnv);
  ASSERT_FALSE(refused);
  EXPECT_THAT(refused.error().message, HasSubstr("--env \"1A=x\""));

  auto badGrace = request("x");
  badGrace.stopGracePeriodMs = -1;
  refused = tasks_->run(badGrace);
  ASSERT_FALSE(refused);
  EXPECT_THAT(refused.error().message, HasSubstr("--stop-grace-period -1ms"));
  EXPECT_EQ(*store_->currentRevision(), before);
}

TEST_F(TaskManagerTest, NetworkInUseCannotBeRemovedUntilTheTaskIs) {
  auto task = tasks_->run(request("user"));
  ASSERT_TRUE(task);
  auto refused = networks_->remove("chaos_net");
  ASSERT_FALSE(refused);
  EXPECT_THAT(refused.error().message, HasSubstr("in use by task(s) user"));
  ASSERT_TRUE(tasks_->remove("user", true));
  EXPECT_TRUE(networks_->remove("chaos_net"));
}

TEST_F(TaskManagerTest, RunningTaskNeedsForceToRemove) {
  auto task = tasks_->run(request("busy"));
  ASSERT_TRUE(task);
  ASSERT_TRUE(tasks_->reportStatus({task->id, task->nodeId, "running", "", 0}));
  auto refused = tasks_->remove("busy", false);
  ASSERT_FALSE(refused);
  EXPECT_THAT(refused.error().message, HasSubstr("rm -f busy"));
  ASSERT_TRUE(tasks_->reportStatus({task->id, task->nodeId, "exited", "exit code 0", 0}));
  EXPECT_TRUE(tasks_->remove("busy", false));
}

// A task whose image is being pulled is about to run: removing it needs -f like a running
// one, and its record carries the pull's progress.
TEST_F(TaskManagerTest, APreparingTaskNeedsForceToRemove) {
  auto task = tasks_->run(request("pulling"));
  ASSERT_TRUE(task);
  ASSERT_TRUE(tasks_->reportStatus(
      {task->id, task->nodeId, "preparing", "pulling docker.io/library/web:1: 1 of 2 layers", 0}));
  auto seen = tasks_->inspect("pulling");
  ASSERT_TRUE(seen);
  EXPECT_EQ(seen->state, "preparing");
  EXPECT_EQ(seen->message, "pulling docker.io/library/web:1: 1 of 2 layers");
  auto refused = tasks_->remove("pulling", false);
  ASSERT_FALSE(refused);
  EXPECT_THAT(refused.error().message, HasSubstr("is preparing"));
  EXPECT_THAT(refused.error().message, HasSubstr("rm -f pulling"));
  EXPECT_TRUE(tasks_->remove("pulling", true));
}

TEST_F(TaskManagerTest, AStatusWithAnUnknownStateIsRefusedAndNothingChanges) {
  auto task = tasks_->run(request("odd"));
  ASSERT_TRUE(task);
  auto refused = tasks_->reportStatus({task->id, task->nodeId, "dancing", "", 0});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::InvalidArgument);
  EXPECT_THAT(refused.error().message, HasSubstr("\"dancing\""));
  EXPECT_THAT(refused.error().message, HasSubstr("expected preparing, running"));
  EXPECT_EQ(tasks_->inspect("odd")->state, "pending");
}

// The orchestrator counts an unhealthy ending as a failure: the agent's final "shutdown"
// report carries no health, and must not erase the "unhealthy" that ended the task.
TEST_F(TaskManagerTest, AnEndedTaskKeepsItsLastHealth) {
  auto task = tasks_->run(request("checked"));
  ASSERT_TRUE(task);
  ASSERT_TRUE(tasks_->reportStatus({task->id, task->nodeId, "running", "", 0, "starting"}));
  ASSERT_TRUE(tasks_->reportStatus({task->id, task->nodeId, "running", "", 0, "unhealthy"}));
  ASSERT_TRUE(tasks_->reportStatus({task->id, task->nodeId, "shutdown", "stopped", 0, ""}));
  auto ended = tasks_->inspect("checked");
  ASSERT_TRUE(ended);
  EXPECT_EQ(ended->state, "shutdown");
  EXPECT_EQ(ended->health, "unhealthy");
  // While it runs, the agent's word is the health (a check removed by an update clears it).
  ASSERT_TRUE(tasks_->reportStatus({task->id, task->nodeId, "running", "", 0, ""}));
  EXPECT_EQ(tasks_->inspect("checked")->health, "");
}

// Removing a service task's record would free its address while it still drains, and
// the slot's refill would get the same address and MAC: the service manages its tasks.
TEST_F(TaskManagerTest, ATaskOfAnExistingServiceIsRefusedEvenWithForceAndKept) {
  ServiceManager services(*store_);
  api::ServiceSpec spec;
  spec.name = "web";
  spec.replicas = 1;
  spec.command = {"httpd", "-f"};
  spec.networks = {{"chaos_net", {}}};
  auto web = services.create(spec);
  ASSERT_TRUE(web) << web.error().message;
  orchestrator::Decisions decisions;
  decisions.create = {{web->id, 1, "n2", web->version}};
  ASSERT_TRUE(services.apply(decisions));
  auto listed = tasks_->list();
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->size(), 1u);
  const api::Task task = (*listed)[0];
  ASSERT_EQ(task.serviceId, web->id);

  auto before = store_->currentRevision();
  for (bool force : {false, true}) {
    auto refused = tasks_->remove(task.name, force);
    ASSERT_FALSE(refused) << "force " << force;
    EXPECT_EQ(refused.error().kind, ErrorKind::FailedPrecondition);
    EXPECT_EQ(refused.error().message,
              "rm: task " + task.name +
                  " belongs to service web: tasks of a service are managed by it; use "
                  "`overmesh service scale web=N` or `overmesh service rm web`");
  }
  EXPECT_EQ(*store_->currentRevision(), *before);
  EXPECT_TRUE(tasks_->inspect(task.id));

  // Once the service is gone, what it left behind may be cleaned up.
  ASSERT_TRUE(services.remove("web"));
  auto removed = tasks_->remove(task.name, true);
  ASSERT_TRUE(removed) << removed.error().message;
  EXPECT_EQ(removed->id, task.id);
  EXPECT_FALSE(tasks_->inspect(task.id));
}

TEST_F(TaskManagerTest, AddressesAreReusedAfterRemoval) {
  ASSERT_TRUE(tasks_->run(request("a")));
  ASSERT_TRUE(tasks_->run(request("b")));
  ASSERT_TRUE(tasks_->remove("a", true));
  auto c = tasks_->run(request("c"));
  ASSERT_TRUE(c);
  EXPECT_EQ(c->attachments[0].address, "10.0.15.2/24");
}

TEST_F(TaskManagerTest, OnlyTheTasksNodeMayReportItsState) {
  auto run = request("pinned");
  run.node = "h2";
  auto task = tasks_->run(run);
  ASSERT_TRUE(task);
  auto refused = tasks_->reportStatus({task->id, managerNode_.id, "running", "", 0});
  EXPECT_FALSE(refused);
  ASSERT_TRUE(tasks_->reportStatus({task->id, "n2", "failed", "no such command", 127}));
  auto seen = tasks_->inspect("pinned");
  ASSERT_TRUE(seen);
  EXPECT_EQ(seen->state, "failed");
  EXPECT_EQ(seen->exitCode, 127);
}

TEST_F(TaskManagerTest, ConcurrentRunsNeverShareAnAddress) {
  std::vector<std::thread> threads;
  std::mutex mutex;
  std::set<std::string> addresses;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        auto task = tasks_->run(request(fmt::format("c{}-{}", t, i)));
        ASSERT_TRUE(task) << task.error().message;
        std::lock_guard lock(mutex);
        EXPECT_TRUE(addresses.insert(task->attachments[0].address).second);
      }
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  EXPECT_EQ(addresses.size(), 40u);
}

}  // namespace
}  // namespace overmesh::manager
