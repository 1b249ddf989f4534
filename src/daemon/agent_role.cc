#include "daemon/agent_role.h"

#include <spdlog/spdlog.h>

#include <mutex>
#include <nlohmann/json.hpp>

#include "agent/manager_client.h"
#include "api/api_error.h"
#include "api/cluster_protocol.h"
#include "common/json.h"
#include "daemon/known_managers.h"
#include "dataplane/linux/linux_node_kernel.h"
#include "dataplane/linux/underlay_filter.h"
#include "dataplane/overlay_plan.h"
#include "dns/dns_server.h"
#include "runtime/podman/image_runtime.h"
#include "runtime/process_runtime.h"
#include "runtime/runtime_router.h"
#include "state/keys.h"

namespace overmesh::daemon {

agent::StatusReporter remoteStatusReporter(std::shared_ptr<agent::ManagerEndpoints> managers,
                                           api::TlsClientConfigSource tls) {
  // TaskReportSender calls the reporter from one thread at a time; the mutex makes that
  // an explicit guarantee of this function rather than an assumption.
  struct Shared {
    Shared(std::shared_ptr<agent::ManagerEndpoints> managers, api::TlsClientConfigSource tls)
        : client(std::move(managers), std::move(tls)) {}
    std::mutex mutex;
    agent::ManagerClient client;  // guarded by mutex
  };
  auto shared = std::make_shared<Shared>(std::move(managers), std::move(tls));
  return [shared](const std::string& taskId, const agent::TaskReport& report) -> Status {
    std::string path = std::string(api::kTaskStatusPattern);
    path.replace(path.find("{id}"), 4, taskId);
    nlohmann::json body = {{"state", report.state},
                           {"message", report.message},
                           {"exitCode", report.exitCode},
                           {"health", report.health}};
    std::lock_guard lock(shared->mutex);
    auto answer = shared->client.call("POST", path, dumpJson(body), std::chrono::seconds(10));
    if (!answer) {
      return std::unexpected(answer.error());
    }
    return {};
  };
}

namespace {

// Steady time for every worker's ManagerEndpoints: stateless, so one is enough.
const SystemClock kSteadyClock;

// The worker's managers: the saved ones first, then the one it joined through; every
// change the heartbeat teaches is saved for the next start.
Result<std::shared_ptr<agent::ManagerEndpoints>> workerManagers(const std::string& joinedManager,
                                                                const std::string& stateDir,
                                                                const std::string& nodeId) {
  auto known = loadKnownManagers(stateDir);
  if (!known) {
    spdlog::warn("{}; starting from the manager this node joined through ({})",
                 known.error().message, joinedManager);
  }
  auto start = startingManagers(joinedManager, known ? *known : std::nullopt, nodeId);
  return agent::ManagerEndpoints::create(
      std::move(start), kSteadyClock,
      [stateDir, nodeId](const std::vector<std::string>& addresses, const std::string& leader) {
        if (auto saved = saveKnownManagers(stateDir, KnownManagers{nodeId, addresses, leader});
            !saved) {
          spdlog::warn("cannot save the managers this node knows: {}", saved.error().message);
        }
      });
}

// The resolver when the real one could not start (no epoll, no threads): every attach
// fails with the reason, so each task's log says why names do not resolve, and tasks
// still run and reach each other by address.
class UnavailableDns final : public dns::EmbeddedDns {
 public:
  explicit UnavailableDns(std::string why) : why_(std::move(why)) {}
  Status attachSandbox(const std::string&, const std::string&,
                       const std::vector<std::string>&) override {
    return errorf(ErrorKind::Unavailable, "the embedded DNS did not start: {}", why_);
  }
  void detachSandbox(const std::string&) override {}
  void setDirectory(std::shared_ptr<const dns::DnsDirectory>) override {}

 private:
  std::string why_;
};

}  // namespace

void AgentRole::startTasks(agent::TaskAgentConfig config, agent::StatusReporter reporter,
                           runtime::podman::PodmanService& podman, runtime::ImageStore& images) {
  kernel_ = std::make_unique<dataplane::kernel::LinuxNodeKernel>();
  processRuntime_ =
      std::make_unique<runtime::ProcessRuntime>(config.stateDir + "/tasks", config.shimPath);
  // Containers are labelled with the node's ID: list() finds this node's only, also when
  // several lab hosts share one machine's podman binary.
  imageRuntime_ = std::make_unique<runtime::podman::ImageRuntime>(
      podman, config.stateDir + "/containers", config.nodeId);
  runtime_ = std::make_unique<runtime::RuntimeRouter>(*processRuntime_, *imageRuntime_);
  registries_ = std::make_unique<RegistrySettingsApplier>(podman);
  underlay_ = std::make_unique<UnderlayGuard>(
      std::make_unique<dataplane::kernel::NftUnderlayFilter>(
          dataplane::UnderlayPorts{dataplane::kVxlanPort, config.nodePort}),
      std::set<Ipv4Address>{config.advertiseAddress});
  dns::DnsServerConfig dnsConfig;
  dnsConfig.resolvConfPath = config.resolvConfPath;
  if (auto server = dns::DnsServer::start(dnsConfig)) {
    dns_ = std::move(*server);
  } else {
    spdlog::error("embedded DNS: {}", server.error().message);
    dns_ = std::make_unique<UnavailableDns>(server.error().message);
  }
  tasks_ = std::make_unique<agent::TaskAgent>(std::move(config), cache_, std::move(reporter),
                                              *kernel_, *runtime_, images, *dns_);
  cache_.setOnChange([this, tasks = tasks_.get()](store::Revision) {
    tasks->wake();
    registries_->update(cache_.value(std::string(state::keys::kRegistries)));
    underlay_->update(cache_.nodes());
  });
  tasks_->start();
}

Result<std::unique_ptr<AgentRole>> AgentRole::forWorker(const std::string& managerAddress,
                                                        api::TlsClientConfigSource tls,
                                                        agent::TaskAgentConfig tasks,
                                                        runtime::podman::PodmanService& podman,
                                                        runtime::ImageStore& images) {
  auto role = std::unique_ptr<AgentRole>(new AgentRole());
  auto managers = workerManagers(managerAddress, tasks.stateDir, tasks.nodeId);
  if (!managers) {
    return std::unexpected(managers.error());
  }
  role->managers_ = std::move(*managers);
  role->startTasks(std::move(tasks), remoteStatusReporter(role->managers_, tls), podman, images);
  // Every manager the agent may talk to passes the members-only filter from the start
  // (the node list in the cache, which says who the others are, comes from them).
  for (const auto& address : role->managers_->addresses()) {
    if (auto manager = hostOfEndpoint(address)) {
      role->underlay_->addFixedMember(*manager);
    }
  }
  // The source needs the sync's cancel flag and the sync owns the source: make the sync,
  // then hand it its source.
  auto sync = std::make_unique<agent::StateSync>(nullptr, role->cache_);
  sync->setSource(
      std::make_unique<agent::RemoteStateSource>(role->managers_, tls, sync->cancelFlag()));
  role->sync_ = std::move(sync);
  role->heartbeat_ = std::make_unique<agent::HeartbeatLoop>(role->managers_, std::move(tls),
                                                            std::chrono::milliseconds(3000));
  role->sync_->start();
  role->heartbeat_->start();
  return role;
}

std::unique_ptr<AgentRole> AgentRole::forManager(store::Store& store, agent::TaskAgentConfig tasks,
                                                 agent::StatusReporter reporter,
                                                 runtime::podman::PodmanService& podman,
                                                 runtime::ImageStore& images) {
  auto role = std::unique_ptr<AgentRole>(new AgentRole());
  role->startTasks(std::move(tasks), std::move(reporter), podman, images);
  role->sync_ = std::make_unique<agent::StateSync>(
      std::make_unique<agent::LocalStateSource>(store), role->cache_);
  role->sync_->start();
  return role;
}

AgentRole::~AgentRole() { stop(); }

void AgentRole::cancelExecs() {
  if (runtime_) {
    runtime_->cancelExecs();
  }
}

void AgentRole::requestStop() {
  if (heartbeat_) {
    heartbeat_->requestStop();
  }
  if (sync_) {
    sync_->requestStop();
  }
}

void AgentRole::stop() {
  if (heartbeat_) {
    heartbeat_->stop();
  }
  if (sync_) {
    sync_->stop();
  }
  // Stopping the task agent leaves tasks running: they survive a daemon restart.
  if (tasks_) {
    tasks_->stop();
  }
}

std::string AgentRole::problem() const {
  if (sync_ && !sync_->connected()) {
    std::string error = sync_->lastError();
    return error.empty() ? "not yet in sync with the manager" : error;
  }
  if (heartbeat_ && !heartbeat_->healthy()) {
    std::string error = heartbeat_->lastError();
    return error.empty() ? "no heartbeat answered yet" : error;
  }
  return "";
}

}  // namespace overmesh::daemon
