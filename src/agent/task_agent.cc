#include "agent/task_agent.h"

#include <spdlog/spdlog.h>

#include "agent/sandbox_files.h"
#include "agent/task_spec.h"
#include "common/image_reference.h"

namespace overmesh::agent {
namespace {

// A periodic pass catches what no cache change announces: a task process that exited.
constexpr std::chrono::milliseconds kResyncPeriod{2000};

}  // namespace

TaskAgent::TaskAgent(TaskAgentConfig config, const StateCache& cache, StatusReporter reporter,
                     dataplane::NodeKernel& kernel, runtime::TaskRuntime& runtime,
                     runtime::ImageStore& images, dns::EmbeddedDns& dns, const Clock* clock)
    : config_(std::move(config)),
      cache_(cache),
      kernel_(kernel),
      runtime_(runtime),
      clock_(clock != nullptr ? *clock : systemClock_),
      discovery_(kernel_, dns),
      sender_(std::move(reporter)),
      health_(runtime_, clock_,
              [this](const std::string& taskId, const std::string& health,
                     const std::string& message) { sender_.setHealth(taskId, health, message); }),
      stopper_(runtime_, sender_, [this] { wake(); }),
      puller_(
          images, [this] { wake(); }, clock_) {
  gateway_.subnet = config_.gatewaySubnet;
  underlayMtu_ = kernel_.underlayMtu(config_.advertiseAddress);
}

TaskAgent::~TaskAgent() { stop(); }

void TaskAgent::start() {
  thread_ = std::thread([this] { run(); });
  health_.start();
}

void TaskAgent::stop() {
  stop_.stop();
  wakeUp_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
  }
  stopper_.shutdown();
  health_.stop();
  puller_.stop();
}

void TaskAgent::wake() {
  {
    std::lock_guard lock(wakeMutex_);
    pending_ = true;
  }
  wakeUp_.notify_all();
}

bool TaskAgent::waitForStops(std::chrono::milliseconds timeout) {
  return stopper_.waitIdle(timeout);
}

bool TaskAgent::waitForPulls(std::chrono::milliseconds timeout) {
  return puller_.waitIdle(timeout);
}

void TaskAgent::checkHealth() {
  health_.runDueChecks();
  health_.waitForChecks();
}

std::string TaskAgent::sandboxNamespace(const std::string& taskId) const {
  return config_.namespacePrefix + "t-" + taskId;
}

// Thread: reconciles after every cache change, every ended stop and every kResyncPeriod.
void TaskAgent::run() {
  spdlog::info("task agent: underlay MTU {}, overlay MTU {}", underlayMtu_,
               underlayMtu_ - dataplane::kVxlanOverhead);
  while (!stop_.stopped()) {
    {
      std::unique_lock lock(wakeMutex_);
      wakeUp_.wait_for(lock, kResyncPeriod, [this] { return pending_ || stop_.stopped(); });
      pending_ = false;
    }
    if (stop_.stopped()) {
      break;
    }
    reconcile();
  }
}

bool TaskAgent::report(const api::Task& task, const std::string& state, const std::string& message,
                       std::int64_t exitCode) {
  return sender_.send(task, TaskReport{state, message, exitCode, ""});
}

Result<std::optional<Ipv4Prefix>> TaskAgent::egressAddressFor(
    const dataplane::SandboxPlan& sandbox) {
  if (!sandbox.egress) {
    return std::optional<Ipv4Prefix>();
  }
  std::lock_guard lock(mutex_);
  if (auto known = egress_.find(sandbox.taskId); known != egress_.end()) {
    return std::optional<Ipv4Prefix>(known->second);
  }
  auto existing = kernel_.sandboxEgressAddress(sandboxNamespace(sandbox.taskId), gateway_);
  if (existing && *existing) {
    egress_[sandbox.taskId] = **existing;
    return *existing;
  }
  std::set<Ipv4Address> used = {gateway_.address()};
  for (const auto& [id, prefix] : egress_) {
    used.insert(prefix.address());
  }
  Ipv4Address candidate = gateway_.address().next();
  while (used.contains(candidate) && gateway_.subnet.contains(candidate)) {
    candidate = candidate.next();
  }
  if (!gateway_.subnet.contains(candidate) || candidate == gateway_.subnet.broadcast()) {
    return errorf(ErrorKind::FailedPrecondition, "the gateway subnet {} is full",
                  gateway_.subnet.toString());
  }
  auto prefix = Ipv4Prefix::fromParts(candidate, gateway_.subnet.length());
  egress_[sandbox.taskId] = *prefix;
  return std::optional<Ipv4Prefix>(*prefix);
}

std::optional<Ipv4Address> TaskAgent::localAddressOf(const std::string& taskId) {
  {
    std::lock_guard lock(mutex_);
    if (auto known = egress_.find(taskId); known != egress_.end()) {
      return known->second.address();
    }
  }
  // After a restart the map is empty until each task is observed; the sandbox still has
  // its address, and the published port must keep leading to it from the first pass.
  auto existing = kernel_.sandboxEgressAddress(sandboxNamespace(taskId), gateway_);
  if (!existing || !*existing) {
    return std::nullopt;
  }
  std::lock_guard lock(mutex_);
  egress_[taskId] = **existing;
  return (*existing)->address();
}

dataplane::MeshIndex TaskAgent::applyMesh(const std::vector<api::Network>& networks,
                                          const std::vector<api::Service>& services,
                                          const std::vector<api::Task>& tasks,
                                          const std::vector<api::Node>& nodes) {
  auto mesh = dataplane::MeshIndex::build(
      config_.nodeId, networks, services, tasks, nodes,
      [this](const std::string& taskId) { return localAddressOf(taskId); });
  dataplane::NodeMesh wanted = mesh.node();
  std::erase_if(wanted.ports, [&](const dataplane::MeshPort& port) {
    std::pair<std::string, std::uint16_t> key{port.protocol, port.publishedPort};
    if (!config_.reservedPorts.contains(key)) {
      return false;
    }
    if (reservedPortsLogged_.insert(key).second) {
      spdlog::error(
          "routing mesh: service {} publishes {}/{}, which this node's overmeshd needs for the "
          "cluster; the port is not opened on this node (publish another port)",
          port.serviceName, port.publishedPort, port.protocol);
    }
    return true;
  });
  if (wanted != appliedMesh_ || !meshApplied_) {
    if (auto applied = kernel_.applyNodeMesh(wanted); !applied) {
      spdlog::error("routing mesh: {}", applied.error().message);
      meshApplied_ = false;
    } else {
      if (wanted.ports.size() != appliedMesh_.ports.size()) {
        spdlog::info("routing mesh: {} published port(s) open on this node", wanted.ports.size());
      }
      appliedMesh_ = std::move(wanted);
      meshApplied_ = true;
    }
  }
  return mesh;
}

bool TaskAgent::imageReady(const api::Task& task) {
  const std::string& image = task.container.image;
  auto pull = puller_.request(image);
  switch (pull.kind) {
    case ImagePullState::Kind::Present:
      return true;
    case ImagePullState::Kind::Failed: {
      std::string message = fmt::format("pull {}: {}", image, pull.message);
      if (!sender_.reportedFinal(task.id)) {
        spdlog::error("task {}: {}", task.name, message);
      }
      report(task, "failed", message, 0);
      return false;
    }
    case ImagePullState::Kind::Absent:    // only after stop(): the pass is the last one
    case ImagePullState::Kind::Checking:  // the wake at its end comes in milliseconds
      return false;
    case ImagePullState::Kind::Pulling: {
      // The name as the user typed it, without the digest: progress lines are shown on a
      // terminal line (`service create`, `run`); the record and the errors keep the digest.
      auto reference = parseImageReference(image);
      std::string shown = reference ? reference->familiar() : image;
      report(task, "preparing",
             pull.progress.empty() ? fmt::format("pulling {}", shown)
                                   : fmt::format("pulling {}: {}", shown, pull.progress),
             0);
      return false;
    }
  }
  return false;
}

void TaskAgent::startTask(const api::Task& task, const dataplane::SandboxPlan& sandbox,
                          const std::vector<api::Network>& networks,
                          const dataplane::MeshIndex& mesh) {
  // The image first: no sandbox is made for a task that may wait minutes for its pull or
  // never start at all.
  if (!task.container.image.empty() && !imageReady(task)) {
    return;
  }
  std::string ns = sandboxNamespace(task.id);
  auto fail = [&](const std::string& message) {
    spdlog::error("task {}: {}", task.name, message);
    report(task, "failed", message, 0);
  };
  if (sandbox.egress) {
    for (const auto& network : networks) {
      auto subnet = Ipv4Prefix::parse(network.subnet);
      if (subnet && subnet->overlaps(gateway_.subnet)) {
        return fail(fmt::format("the node's gateway subnet {} overlaps network {} ({}); restart "
                                "overmeshd with another --gateway-subnet",
                                gateway_.subnet.toString(), network.name, network.subnet));
      }
    }
  }
  if (auto created = kernel_.ensureNamespace(ns); !created) {
    return fail("create the sandbox namespace: " + created.error().message);
  }
  if (sandbox.egress) {
    if (auto gateway = kernel_.ensureGateway(gateway_, underlayMtu_); !gateway) {
      return fail("set up the gateway bridge: " + gateway.error().message);
    }
  }
  auto egress = egressAddressFor(sandbox);
  if (!egress) {
    return fail(egress.error().message);
  }
  if (auto wired = kernel_.wireSandbox(ns, sandbox, gateway_, *egress); !wired) {
    return fail("wire the sandbox: " + wired.error().message);
  }
  // The resolver and the VIPs before the process: its first lookup must be answered.
  if (auto prepared = discovery_.prepare(task, ns, kernel_.namespacePath(ns), mesh); !prepared) {
    spdlog::warn("task {}: {}", task.name, prepared.error().message);
  }
  runtime::TaskSpec spec = taskSpecOf(task);
  spec.netnsPath = kernel_.namespacePath(ns);
  spec.hostsFile = hostsFileFor(task);
  spec.resolvConf = sandboxResolvConf();
  auto started = runtime_.start(spec);
  if (!started) {
    if (!spec.image.empty()) {
      // The puller's "present" may be stale (the image removed since): the next task
      // checks the store again.
      puller_.forget(spec.image);
    }
    return fail(started.error().message);
  }
  spdlog::info("task {} started id={} pid={}", task.name, task.id, started->pid);
  if (auto initial = health_.watch(task)) {
    sender_.setHealth(task.id, initial->health, initial->message);
  }
  report(task, "running", "", 0);
}

bool TaskAgent::removeTask(const std::string& taskId) {
  discovery_.forget(taskId, sandboxNamespace(taskId));
  health_.unwatch(taskId);
  sender_.clearHealth(taskId);
  if (auto stopped = runtime_.remove(taskId); !stopped) {
    spdlog::error("task {}: remove: {}", taskId, stopped.error().message);
    return false;
  }
  if (auto unwired = kernel_.unwireSandbox(taskId); !unwired) {
    spdlog::error("task {}: unwire: {}", taskId, unwired.error().message);
  }
  if (auto deleted = kernel_.deleteNamespace(sandboxNamespace(taskId)); !deleted) {
    spdlog::error("task {}: delete namespace: {}", taskId, deleted.error().message);
  }
  std::lock_guard lock(mutex_);
  egress_.erase(taskId);
  spdlog::info("task {} removed", taskId);
  return true;
}

void TaskAgent::settleUnwanted(const std::map<std::string, const api::Task*>& tasksById,
                               const std::set<std::string>& present,
                               const TaskStopper::Progress& stops) {
  for (const auto& id : present) {
    if (stops.inProgress.contains(id)) {
      continue;
    }
    auto found = tasksById.find(id);
    const api::Task* record = found == tasksById.end() ? nullptr : found->second;
    // A record moved to another node is that node's to report; here it is just gone.
    if (record != nullptr && record->nodeId != config_.nodeId) {
      record = nullptr;
    }
    if (record != nullptr && record->desiredState == "running") {
      continue;  // wanted
    }
    if (stops.stopped.contains(id)) {
      if (removeTask(id)) {  // stopped and reported by the stopper
        stopper_.forget(id);
      }
      continue;
    }
    auto status = runtime_.status(id);
    if (!status && status.error().kind != ErrorKind::NotFound) {
      // Unknown whether it runs: removing it now could kill it without its grace.
      spdlog::error("task {}: {}", id, status.error().message);
      continue;
    }
    if (status && status->state == runtime::TaskState::Running) {
      health_.unwatch(id);
      sender_.clearHealth(id);
      StopRequest request{id, std::nullopt, config_.drainBeforeStop, kStopGraceWithoutRecord};
      if (record != nullptr) {
        request.record = *record;
        request.grace = stopGraceOf(record->stopGracePeriodMs);
      }
      stopper_.submit(std::move(request));
      continue;
    }
    // Exited on its own (it keeps its terminal state), or a sandbox without a process (a
    // start that failed half-way, or a removal cut short): cleaned up. An exit the manager
    // has not heard of is reported first, and the sandbox kept until that worked.
    if (status && record != nullptr && !isFinalState(record->state)) {
      std::string state = status->exitCode == 0 ? "exited" : "failed";
      std::string message =
          status->message.empty() ? fmt::format("exit code {}", status->exitCode) : status->message;
      if (!report(*record, state, message, status->exitCode)) {
        continue;
      }
    }
    removeTask(id);
  }
}

void TaskAgent::reportGone(const std::vector<api::Task>& tasks,
                           const std::set<std::string>& present,
                           const TaskStopper::Progress& stops) {
  for (const auto& task : tasks) {
    if (task.nodeId != config_.nodeId || task.desiredState == "running" ||
        isFinalState(task.state) || present.contains(task.id) ||
        stops.inProgress.contains(task.id) || sender_.reportedFinal(task.id)) {
      continue;
    }
    std::string message = task.message.empty() ? std::string("stopped") : task.message;
    if (task.state == "pending" || task.state == "preparing") {
      message = "not started";
    }
    report(task, "shutdown", message, 0);
  }
}

void TaskAgent::observeTask(const api::Task& task, const dataplane::SandboxPlan& sandbox,
                            std::set<std::string>& running) {
  // Re-apply the wiring: a no-op when right, a repair when something removed a device.
  auto egress = egressAddressFor(sandbox);
  if (egress) {
    if (auto wired = kernel_.wireSandbox(sandboxNamespace(task.id), sandbox, gateway_, *egress);
        !wired) {
      spdlog::error("task {}: {}", task.name, wired.error().message);
    }
  }
  auto status = runtime_.status(task.id);
  if (!status) {
    return;
  }
  if (status->state == runtime::TaskState::Running) {
    running.insert(task.id);
    if (auto initial = health_.watch(task)) {
      sender_.setHealth(task.id, initial->health, initial->message);
    }
    report(task, "running", "", 0);
    return;
  }
  health_.unwatch(task.id);
  sender_.clearHealth(task.id);
  std::string state = status->exitCode == 0 ? "exited" : "failed";
  report(task, state,
         status->message.empty() ? fmt::format("exit code {}", status->exitCode) : status->message,
         status->exitCode);
}

void TaskAgent::reconcile() {
  // Until the first snapshot arrives an empty cache means "unknown", not "no tasks":
  // acting on it would tear down every task after a restart.
  if (!cache_.synced()) {
    return;
  }
  // The revision first: objects read after it are at least that new, so a change that
  // lands in between is seen again (and rebuilt) on the next pass.
  store::Revision revision = cache_.revision();
  auto networks = cache_.networks();
  auto nodes = cache_.nodes();
  auto tasks = cache_.tasks();
  auto services = cache_.services();
  std::map<std::string, const api::Task*> tasksById;
  std::set<std::string> recorded;
  for (const auto& task : tasks) {
    tasksById[task.id] = &task;
    recorded.insert(task.id);
  }

  // Taken before the runtime's list: a stop that ends after this is seen next pass.
  auto stops = stopper_.progress();
  auto known = runtime_.list();
  std::set<std::string> processes;
  if (known) {
    processes.insert(known->begin(), known->end());
  } else {
    spdlog::error("task agent: list tasks: {}", known.error().message);
  }
  // Sandboxes without a task process (a start that failed half-way) count as present
  // when the task is not wanted: they are cleaned up too.
  std::set<std::string> present = processes;
  if (auto sandboxes = kernel_.listNamespaces(config_.namespacePrefix + "t-")) {
    for (const auto& ns : *sandboxes) {
      present.insert(ns.substr(config_.namespacePrefix.size() + 2));
    }
  }
  // Before anything stops or starts: a task told to shut down leaves every local
  // sandbox's answers and maps now, and a task about to start gets current ones.
  discovery_.refresh(revision, networks, services, tasks, nodes);
  // Likewise the node's published ports: a replica that left gets no new connection
  // through this node from here on.
  auto mesh = applyMesh(networks, services, tasks, nodes);
  // Every running sandbox's resolver and maps are brought up to date first, before the
  // slower steps of the pass (cleanups, the overlay, starts): a backend that left gets no
  // new connection from this node from here on, and a new one gets them at once.
  for (const auto& task : tasks) {
    if (task.nodeId == config_.nodeId && task.desiredState == "running" &&
        processes.contains(task.id) && !stops.inProgress.contains(task.id)) {
      std::string ns = sandboxNamespace(task.id);
      if (auto prepared = discovery_.prepare(task, ns, kernel_.namespacePath(ns), mesh);
          !prepared) {
        spdlog::warn("task {}: {}", task.name, prepared.error().message);
      }
    }
  }
  settleUnwanted(tasksById, present, stops);
  reportGone(tasks, present, stops);
  sender_.retain(recorded);

  // A task being drained or stopped (including those handed over just now) still serves
  // its connections: its networks' devices stay until it has stopped.
  auto stopping = stopper_.progress().inProgress;
  std::vector<api::Task> planned = tasks;
  for (auto& task : planned) {
    if (task.nodeId == config_.nodeId && stopping.contains(task.id)) {
      task.desiredState = "running";
    }
  }
  auto plan = dataplane::planNode(config_.nodeId, config_.advertiseAddress, underlayMtu_, networks,
                                  nodes, planned, mesh.meshActive());
  for (const auto& problem : plan.problems) {
    spdlog::warn("task agent: {}", problem);
  }
  // Overlay devices before starts, so a starting task's veth has its bridge.
  auto overlay = kernel_.applyOverlay(plan.networks, config_.advertiseAddress);
  for (const auto& problem : overlay.problems) {
    spdlog::error("overlay: {}", problem);
  }
  if (overlay.mutations() > 0) {
    spdlog::info("overlay: devices +{} -{}, peer entries +{} -{}", overlay.devicesCreated,
                 overlay.devicesRemoved, overlay.entriesAdded, overlay.entriesRemoved);
  }
  if (overlay.kernelUnavailable) {
    // Starting a task now would fail its wiring and report it failed for good; the next
    // pass (a few seconds away) tries again.
    return;
  }

  std::set<std::string> running;
  for (const auto& sandbox : plan.sandboxes) {
    if (stopping.contains(sandbox.taskId)) {
      continue;
    }
    const api::Task& task = *tasksById[sandbox.taskId];
    if (processes.contains(task.id)) {
      observeTask(task, sandbox, running);
    } else if ((task.state == "pending" || task.state == "preparing") &&
               !sender_.reportedFinal(task.id)) {
      startTask(task, sandbox, networks, mesh);
      running.insert(task.id);
    }
    // Otherwise it failed or exited earlier: a task is never restarted (the manager
    // makes a new one).
  }
  health_.retain(running);

  // The images this node's waiting tasks need: what the puller remembers of others goes.
  std::set<std::string> images;
  for (const auto& task : tasks) {
    if (task.nodeId == config_.nodeId && task.desiredState == "running" &&
        !task.container.image.empty()) {
      images.insert(task.container.image);
    }
  }
  puller_.retain(images);
}

Result<runtime::ExecResult> TaskAgent::exec(const std::string& taskId,
                                            const std::vector<std::string>& argv,
                                            std::chrono::milliseconds timeout) {
  return runtime_.exec(taskId, argv, timeout);
}

Result<std::string> TaskAgent::logs(const std::string& taskId) {
  return runtime_.logs(taskId, 1 << 20);
}

}  // namespace overmesh::agent
