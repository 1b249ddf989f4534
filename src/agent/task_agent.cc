#include "agent/task_agent.h"

#include <spdlog/spdlog.h>


namespace overmesh::agent {
namespace {

// A periodic pass catches what no cache change announces: a task process that exited.
constexpr std::chrono::milliseconds kResyncPeriod{2000};
constexpr std::chrono::milliseconds kStopGrace{5000};

std::string hostsFileFor(const api::Task& task) {
  std::string hosts = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n";
  for (const auto& attachment : task.attachments) {
    hosts += attachment.address.substr(0, attachment.address.find('/')) + "\t" + task.name + "\n";
  }
  return hosts;
}

// The host's resolvers until the embedded DNS exists (the DNS issue replaces this with
// nameserver 127.0.0.11).
std::string resolvConfFor() {
  std::FILE* file = std::fopen("/etc/resolv.conf", "r");
  if (file == nullptr) {
    return "";
  }
  std::string content;
  char buffer[4096];
  std::size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof(buffer), file)) > 0) {
    content.append(buffer, n);
  }
  std::fclose(file);
  return content;
}

}  // namespace

TaskAgent::TaskAgent(TaskAgentConfig config, const StateCache& cache, StatusReporter reporter,
                     dataplane::NodeKernel& kernel, runtime::TaskRuntime& runtime)
    : config_(std::move(config)),
      cache_(cache),
      reporter_(std::move(reporter)),
      kernel_(kernel),
      runtime_(runtime) {
  gateway_.subnet = config_.gatewaySubnet;
  underlayMtu_ = kernel_.underlayMtu(config_.advertiseAddress);
}

TaskAgent::~TaskAgent() { stop(); }

void TaskAgent::start() {
  thread_ = std::thread([this] { run(); });
}

void TaskAgent::stop() {
  stop_.stop();
  wakeUp_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
  }
}

void TaskAgent::wake() {
  {
    std::lock_guard lock(wakeMutex_);
    pending_ = true;
  }
  wakeUp_.notify_all();
}

std::string TaskAgent::sandboxNamespace(const std::string& taskId) const {
  return config_.namespacePrefix + "t-" + taskId;
}

// Thread: reconciles after every cache change and every kResyncPeriod.
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

void TaskAgent::report(const api::Task& task, const std::string& state,
                       const std::string& message, std::int64_t exitCode) {
  std::string key = state + "|" + message + "|" + std::to_string(exitCode);
  {
    std::lock_guard lock(mutex_);
    if (reported_[task.id] == key) {
      return;
    }
  }
  if (task.state == state && task.message == message && task.exitCode == exitCode) {
    std::lock_guard lock(mutex_);
    reported_[task.id] = key;
    return;
  }
  auto sent = reporter_(task.id, TaskReport{state, message, exitCode, ""});
  if (!sent) {
    spdlog::warn("task agent: cannot report task {} {}: {}", task.name, state,
                 sent.error().message);
    return;  // retried on the next pass
  }
  std::lock_guard lock(mutex_);
  reported_[task.id] = key;
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

void TaskAgent::startTask(const api::Task& task, const dataplane::SandboxPlan& sandbox,
                          const std::vector<api::Network>& networks) {
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
  runtime::TaskSpec spec;
  spec.taskId = task.id;
  spec.hostname = task.name;
  spec.command = task.command;
  spec.netnsPath = kernel_.namespacePath(ns);
  spec.hostsFile = hostsFileFor(task);
  spec.resolvConf = resolvConfFor();
  auto started = runtime_.start(spec);
  if (!started) {
    return fail(started.error().message);
  }
  spdlog::info("task {} started id={} pid={}", task.name, task.id, started->pid);
  report(task, "running", "", 0);
}

void TaskAgent::removeTask(const std::string& taskId) {
  if (auto stopped = runtime_.remove(taskId); !stopped) {
    spdlog::error("task {}: remove: {}", taskId, stopped.error().message);
    return;
  }
  if (auto unwired = kernel_.unwireSandbox(taskId); !unwired) {
    spdlog::error("task {}: unwire: {}", taskId, unwired.error().message);
  }
  if (auto deleted = kernel_.deleteNamespace(sandboxNamespace(taskId)); !deleted) {
    spdlog::error("task {}: delete namespace: {}", taskId, deleted.error().message);
  }
  std::lock_guard lock(mutex_);
  egress_.erase(taskId);
  reported_.erase(taskId);
  spdlog::info("task {} removed", taskId);
}

void TaskAgent::reconcile() {
  // Until the first snapshot arrives an empty cache means "unknown", not "no tasks":
  // acting on it would tear down every task after a restart.
  if (!cache_.synced()) {
    return;
  }
  auto networks = cache_.networks();
  auto nodes = cache_.nodes();
  auto tasks = cache_.tasks();
  auto plan = dataplane::planNode(config_.nodeId, config_.advertiseAddress, underlayMtu_,
                                  networks, nodes, tasks);
  for (const auto& problem : plan.problems) {
    spdlog::warn("task agent: {}", problem);
  }
  std::map<std::string, const api::Task*> tasksById;
  for (const auto& task : tasks) {
    tasksById[task.id] = &task;
  }

  auto known = runtime_.list();
  std::set<std::string> present;
  if (known) {
    present.insert(known->begin(), known->end());
  } else {
    spdlog::error("task agent: list tasks: {}", known.error().message);
  }

  // Overlay devices first, so a starting task's veth has its bridge.
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

  std::set<std::string> wanted;
  for (const auto& sandbox : plan.sandboxes) {
    wanted.insert(sandbox.taskId);
    const api::Task& task = *tasksById[sandbox.taskId];
    if (!present.contains(task.id)) {
      if (task.state == "pending") {
        startTask(task, sandbox, networks);
      }
      continue;  // failed or exited earlier: a standalone task is not restarted
    }
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
      continue;
    }
    if (status->state == runtime::TaskState::Running) {
      report(task, "running", "", 0);
    } else {
      std::string state = status->exitCode == 0 ? "exited" : "failed";
      report(task, state, status->message.empty() ? fmt::format("exit code {}", status->exitCode)
                                                  : status->message,
             status->exitCode);
    }
  }
  // Sandboxes without a task process (a start that failed half-way) are cleaned up too.
  auto sandboxes = kernel_.listNamespaces(config_.namespacePrefix + "t-");
  if (sandboxes) {
    for (const auto& ns : *sandboxes) {
      std::string id = ns.substr(config_.namespacePrefix.size() + 2);
      if (!wanted.contains(id) && !present.contains(id)) {
        present.insert(id);
      }
    }
  }
  for (const auto& id : present) {
    if (!wanted.contains(id)) {
      auto task = tasksById.find(id);
      // Placed here but not wanted by the plan and not in the cache: removed or moved.
      if (task == tasksById.end() || task->second->nodeId != config_.nodeId ||
          task->second->desiredState != "running") {
        removeTask(id);
      }
    }
  }
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
