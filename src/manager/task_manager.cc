#include "manager/task_manager.h"

#include <algorithm>
#include <array>
#include <map>

#include "api/stack_types.h"
#include "common/ids.h"
#include "common/ip.h"
#include "common/json.h"
#include "common/mac.h"
#include "common/quote.h"
#include "manager/address_allocation.h"
#include "manager/container_validation.h"
#include "manager/network_rules.h"
#include "manager/object_lookup.h"
#include "manager/scheduler.h"
#include "manager/service_validation.h"
#include "manager/store_records.h"
#include "state/keys.h"

namespace overmesh::manager {
namespace {

constexpr int kMaxAttempts = 8;

}  // namespace

TaskManager::TaskManager(store::Store& store) : store_(store) {}

Result<std::vector<std::pair<api::Task, store::Revision>>> TaskManager::readTasks() {
  auto tasks = readRecords<api::Task>(store_, state::keys::kTasks);
  if (tasks) {
    std::sort(tasks->begin(), tasks->end(),
              [](const auto& a, const auto& b) { return a.first.name < b.first.name; });
  }
  return tasks;
}

Result<api::Task> TaskManager::run(const RunRequest& request) {
  if (!request.command.empty() && request.command.front().empty()) {
    return errorf(ErrorKind::InvalidArgument,
                  "run: the command after -- is not valid: its first word is empty, e.g. "
                  "`overmesh run --network NET -- sleep 3600`");
  }
  auto container = validateContainerSpec(request.container, !request.command.empty());
  if (!container) {
    return std::unexpected(container.error().withContext("run"));
  }
  if (auto valid = validateEnv(request.env); !valid) {
    return std::unexpected(valid.error().withContext("run"));
  }
  if (request.stopGracePeriodMs < 0) {
    return errorf(ErrorKind::InvalidArgument,
                  "run: --stop-grace-period {}ms is not valid: give a duration >= 0, e.g. 10s",
                  request.stopGracePeriodMs);
  }
  if (request.networks.empty()) {
    return errorf(ErrorKind::InvalidArgument,
                  "run: at least one --network is required (an attachable overlay network)");
  }
  if (!request.name.empty()) {
    if (auto valid = validateObjectName("task", request.name); !valid) {
      return std::unexpected(valid.error().withContext("run"));
    }
  }
  std::lock_guard lock(mutex_);
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    auto networks = readRecords<api::Network>(store_, state::keys::kNetworks);
    if (!networks) {
      return std::unexpected(networks.error());
    }
    // The per-network guards are read before the tasks, so an attach that lands in
    // between fails our compare and we retry with fresh data.
    std::vector<const api::Network*> chosen;
    std::map<std::string, store::Revision> guardRevisions;
    for (const auto& reference : request.networks) {
      auto index = findByReference("network", namesOf(*networks), reference);
      if (!index) {
        return std::unexpected(index.error().withContext("run"));
      }
      const api::Network& network = (*networks)[*index].first;
      if (std::any_of(chosen.begin(), chosen.end(),
                      [&](const api::Network* n) { return n->id == network.id; })) {
        return errorf(ErrorKind::InvalidArgument, "run: network {} is given twice",
                      network.name);
      }
      if (network.ingress) {
        return errorf(ErrorKind::InvalidArgument,
                      "run: --network {} is the routing-mesh ingress network, which no task "
                      "joins by name: tasks of a service join it by publishing a port "
                      "(`overmesh service create --publish 8080:80 ...`)",
                      network.name);
      }
      if (auto stack = network.labels.find(api::kStackNamespaceLabel);
          !network.attachable && stack != network.labels.end()) {
        // Created by `stack deploy` (not attachable unless the file says so, as on
        // Docker): the fix is in the compose file, not a new network.
        return errorf(ErrorKind::FailedPrecondition,
                      "run: network {} is not attachable: stack {} created it, and a stack's "
                      "networks are not attachable unless its compose file says so (under "
                      "networks: that network's key, attachable: true; then deploy again)",
                      network.name, stack->second);
      }
      if (!network.attachable) {
        return errorf(ErrorKind::FailedPrecondition,
                      "run: network {} is not attachable: standalone tasks can join only "
                      "networks created with --attachable (`overmesh network create -d overlay "
                      "--attachable {}`)",
                      network.name, network.name);
      }
      auto guard = store_.get(state::keys::networkAttachmentGuard(network.id));
      if (!guard) {
        return std::unexpected(guard.error());
      }
      guardRevisions[network.id] = *guard ? (*guard)->modRevision : 0;
      chosen.push_back(&network);
    }
    auto tasks = readTasks();
    if (!tasks) {
      return std::unexpected(tasks.error());
    }
    std::string name = request.name;
    if (name.empty()) {
      name = "task-" + newObjectId().substr(0, 8);
    }
    for (const auto& [task, revision] : *tasks) {
      if (task.name == name) {
        return errorf(ErrorKind::Conflict,
                      "run: a task named {} already exists (ID {}); choose another --name or "
                      "remove it with `overmesh rm {}`",
                      name, shortId(task.id), name);
      }
    }
    auto nodes = readRecords<api::Node>(store_, state::keys::kNodes);
    if (!nodes) {
      return std::unexpected(nodes.error());
    }
    std::vector<api::Node> nodeList;
    for (auto& [node, revision] : *nodes) {
      nodeList.push_back(std::move(node));
    }
    std::sort(nodeList.begin(), nodeList.end(),
              [](const auto& a, const auto& b) { return a.hostname < b.hostname; });
    std::vector<api::Task> taskList;
    for (const auto& [task, revision] : *tasks) {
      taskList.push_back(task);
    }
    auto node = pickNode(nodeList, taskList, request.node);
    if (!node) {
      return std::unexpected(node.error().withContext("run"));
    }

    api::Task task;
    task.id = newObjectId();
    task.name = name;
    task.nodeId = node->id;
    task.nodeName = node->hostname;
    task.command = request.command;
    task.env = request.env;
    task.container = *container;
    task.stopGracePeriodMs = request.stopGracePeriodMs;
    task.desiredState = "running";
    task.state = "pending";
    task.message = "waiting for " + node->hostname;
    task.createdAt = nowRfc3339();
    task.updatedAtMs = nowMillis();
    auto services = readRecords<api::Service>(store_, state::keys::kServices);
    if (!services) {
      return std::unexpected(services.error());
    }
    std::vector<api::Service> serviceList = valuesOf(std::move(*services));
    for (const api::Network* network : chosen) {
      auto used = usedAddresses(*network, taskList, serviceList, nodeList);
      auto address = allocateAddress(*network, used);
      if (!address) {
        return std::unexpected(address.error().withContext("run"));
      }
      auto parsed = Ipv4Prefix::parse(*address);
      task.attachments.push_back(
          {network->id, network->name, *address, macForIp(parsed->address()).toString()});
    }

    store::Txn txn;
    txn.compares.push_back(store::Compare::absent(state::keys::taskName(name)));
    for (const api::Network* network : chosen) {
      txn.compares.push_back(store::Compare::modRevisionIs(
          state::keys::networkAttachmentGuard(network->id), guardRevisions[network->id]));
      txn.compares.push_back(store::Compare{state::keys::network(network->id),
                                            store::Compare::Target::CreateRevision,
                                            store::Compare::Op::Greater, "", 0});
      txn.success.push_back(
          store::Operation::put(state::keys::networkAttachmentGuard(network->id), task.id));
    }
    txn.success.push_back(store::Operation::put(state::keys::task(task.id), encodeJson(task)));
    txn.success.push_back(store::Operation::put(state::keys::taskName(name), task.id));
    auto committed = store_.txn(txn);
    if (!committed) {
      return std::unexpected(committed.error().withContext("run"));
    }
    if (committed->succeeded) {
      return task;
    }
  }
  return errorf(ErrorKind::Unavailable,
                "run: the networks kept changing under concurrent requests; retry");
}

Result<std::vector<api::Task>> TaskManager::list() {
  auto tasks = readTasks();
  if (!tasks) {
    return std::unexpected(tasks.error());
  }
  std::vector<api::Task> result;
  for (auto& [task, revision] : *tasks) {
    result.push_back(std::move(task));
  }
  return result;
}

Result<api::Task> TaskManager::inspect(const std::string& reference) {
  auto tasks = readTasks();
  if (!tasks) {
    return std::unexpected(tasks.error());
  }
  auto index = findByReference("task", namesOf(*tasks), reference);
  if (!index) {
    return std::unexpected(index.error());
  }
  return (*tasks)[*index].first;
}

Result<api::Task> TaskManager::remove(const std::string& reference, bool force) {
  std::lock_guard lock(mutex_);
  auto tasks = readTasks();
  if (!tasks) {
    return std::unexpected(tasks.error());
  }
  auto index = findByReference("task", namesOf(*tasks), reference);
  if (!index) {
    return std::unexpected(index.error().withContext("rm"));
  }
  const auto& [task, revision] = (*tasks)[*index];
  // A service's task is refused even with force: deleting its record frees its address
  // while the process may still drain, the orchestrator refills the slot at once and the
  // new task (maybe on another node) would get the same address and MAC. The service
  // stops its tasks itself (scale, rm), keeping the record until the node reports them
  // ended. Tasks left behind by a service that is gone may be removed.
  if (!task.serviceId.empty()) {
    auto service = store_.get(state::keys::service(task.serviceId));
    if (!service) {
      return std::unexpected(service.error().withContext("rm"));
    }
    if (*service) {
      std::string serviceName = task.serviceName.empty() ? task.serviceId : task.serviceName;
      return errorf(ErrorKind::FailedPrecondition,
                    "rm: task {} belongs to service {}: tasks of a service are managed by it; "
                    "use `overmesh service scale {}=N` or `overmesh service rm {}`",
                    task.name, serviceName, serviceName, serviceName);
    }
  }
  // A preparing task (its image being pulled) is about to run: as active as a pending one.
  bool active = task.state == "running" || task.state == "pending" || task.state == "preparing";
  if (active && !force) {
    return errorf(ErrorKind::FailedPrecondition,
                  "rm: task {} is {} on {}; use `overmesh rm -f {}` to stop and remove it",
                  task.name, task.state, task.nodeName, task.name);
  }
  store::Txn txn;
  txn.compares.push_back(store::Compare::modRevisionIs(state::keys::task(task.id), revision));
  txn.success.push_back(store::Operation::del(state::keys::task(task.id)));
  txn.success.push_back(store::Operation::del(state::keys::taskName(task.name)));
  for (const auto& attachment : task.attachments) {
    txn.success.push_back(
        store::Operation::put(state::keys::networkAttachmentGuard(attachment.networkId), task.id));
  }
  auto committed = store_.txn(txn);
  if (!committed) {
    return std::unexpected(committed.error().withContext("rm"));
  }
  if (!committed->succeeded) {
    return errorf(ErrorKind::Conflict, "rm: task {} changed while it was being removed; retry",
                  task.name);
  }
  return task;
}

Status TaskManager::reportStatus(const StatusReport& report) {
  static constexpr std::array<std::string_view, 6> kReportable = {
      "preparing", "running", "exited", "failed", "shutdown", "rejected"};
  if (std::find(kReportable.begin(), kReportable.end(), report.state) == kReportable.end()) {
    return errorf(ErrorKind::InvalidArgument,
                  "task {} status: state {}: expected preparing, running, exited, failed, "
                  "shutdown or rejected",
                  report.taskId, quote(report.state));
  }
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    auto record = store_.get(state::keys::task(report.taskId));
    if (!record) {
      return std::unexpected(record.error());
    }
    if (!*record) {
      return errorf(ErrorKind::NotFound, "task {} not found", report.taskId);
    }
    auto task = decodeJson<api::Task>((*record)->value, (*record)->key);
    if (!task) {
      return errorf(ErrorKind::Internal, "corrupt task record: {}", task.error().message);
    }
    if (task->nodeId != report.nodeId) {
      return errorf(ErrorKind::PermissionDenied,
                    "task {} is not placed on node {}: a node reports only its own tasks",
                    quote(report.taskId, 80), report.nodeId);
    }
    // A task that ended keeps the last health it was seen with: the orchestrator counts an
    // "unhealthy" ending as a failure (restart delay, max attempts), and an agent reports
    // the ending itself without a health.
    std::string health = report.health;
    if (health.empty() && report.state != "running" && report.state != "pending") {
      health = task->health;
    }
    if (task->state == report.state && task->message == report.message &&
        task->exitCode == report.exitCode && task->health == health) {
      return {};
    }
    if (task->state != report.state || task->health != health) {
      task->updatedAtMs = nowMillis();
    }
    task->health = health;
    task->state = report.state;
    task->message = report.message;
    task->exitCode = report.exitCode;
    store::Txn txn;
    txn.compares.push_back(
        store::Compare::modRevisionIs(state::keys::task(report.taskId), (*record)->modRevision));
    txn.success.push_back(
        store::Operation::put(state::keys::task(report.taskId), encodeJson(*task)));
    auto committed = store_.txn(txn);
    if (!committed) {
      return std::unexpected(committed.error());
    }
    if (committed->succeeded) {
      return {};
    }
  }
  return errorf(ErrorKind::Unavailable, "task {} kept changing; status not recorded",
                report.taskId);
}

}  // namespace overmesh::manager
