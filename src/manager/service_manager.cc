#include "manager/service_manager.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <optional>
#include <set>

#include "common/ids.h"
#include "common/ip.h"
#include "common/json.h"
#include "common/mac.h"
#include "manager/address_allocation.h"
#include "manager/cluster_record.h"
#include "manager/container_validation.h"
#include "manager/image_pinning.h"
#include "manager/ingress_network.h"
#include "manager/object_lookup.h"
#include "manager/published_ports.h"
#include "manager/service_validation.h"
#include "manager/store_records.h"
#include "orchestrator/constraints.h"
#include "state/keys.h"

namespace overmesh::manager {
namespace {

// A compare-and-swap loses only to a concurrent writer; a few retries settle it.
constexpr int kMaxServiceWriteAttempts = 8;

store::Compare networkExists(const std::string& networkId) {
  return store::Compare{state::keys::network(networkId), store::Compare::Target::CreateRevision,
                        store::Compare::Op::Greater, "", 0};
}

// Reads the attachment guards of `networkIds` (before anything they protect is read:
// a write that lands after this read changes a guard and fails our compare).
Result<std::map<std::string, store::Revision>> readAttachmentGuards(
    store::Store& store, const std::set<std::string>& networkIds) {
  std::map<std::string, store::Revision> revisions;
  for (const auto& id : networkIds) {
    auto revision = guardRevision(store, state::keys::networkAttachmentGuard(id));
    if (!revision) {
      return std::unexpected(revision.error());
    }
    revisions[id] = *revision;
  }
  return revisions;
}

// Compares and rewrites the attachment guard of each network in `revisions`.
void guardAttachments(store::Txn& txn, const std::map<std::string, store::Revision>& revisions,
                      const std::string& writer) {
  for (const auto& [networkId, revision] : revisions) {
    txn.compares.push_back(
        store::Compare::modRevisionIs(state::keys::networkAttachmentGuard(networkId), revision));
    txn.compares.push_back(networkExists(networkId));
    txn.success.push_back(
        store::Operation::put(state::keys::networkAttachmentGuard(networkId), writer));
  }
}

const api::Network* findNetwork(const std::vector<api::Network>& networks, const std::string& id) {
  auto it = std::find_if(networks.begin(), networks.end(),
                         [&](const api::Network& n) { return n.id == id; });
  return it == networks.end() ? nullptr : &*it;
}

// VIPs for `attachments` in vip mode: the one `existing` has on a network is kept, the
// others allocated; none in dnsrr mode. `used` is the taken set per network.
Result<std::vector<api::ServiceVip>> vipsFor(const api::ServiceSpec& spec,
                                             const std::vector<api::ServiceAttachment>& attachments,
                                             const std::vector<api::ServiceVip>& existing,
                                             const std::vector<api::Network>& networks,
                                             const std::vector<api::Task>& tasks,
                                             const std::vector<api::Service>& services) {
  std::vector<api::ServiceVip> vips;
  if (spec.endpointMode != "vip") {
    return vips;
  }
  for (const auto& attachment : attachments) {
    auto kept = std::find_if(existing.begin(), existing.end(), [&](const api::ServiceVip& vip) {
      return vip.networkId == attachment.networkId;
    });
    if (kept != existing.end()) {
      vips.push_back(*kept);
      continue;
    }
    const api::Network* network = findNetwork(networks, attachment.networkId);
    if (network == nullptr) {
      return errorf(ErrorKind::NotFound, "--network {}: network not found", attachment.networkName);
    }
    // No nodes: a VIP is never on the ingress network (resolveServiceNetworks refuses
    // it), the only network where nodes hold addresses.
    auto used = usedAddresses(*network, tasks, services, {});
    auto address = allocateAddress(*network, used);
    if (!address) {
      return std::unexpected(address.error().withContext("VIP"));
    }
    vips.push_back({network->id, *address});
  }
  return vips;
}

// The published ports the spec asks for, checked against the networks (host mode needs a
// network that is not internal) and the ingress network (ingress mode needs one), with the
// ingress network's ID added to `guarded` when the tasks will join it.
Status checkPortNetworks(const api::ServiceSpec& spec,
                         const std::vector<api::ServiceAttachment>& attachments,
                         const std::vector<api::Network>& networks,
                         std::set<std::string>& guarded) {
  if (auto reachable = checkHostPortsReachable(spec.ports, attachments, networks); !reachable) {
    return reachable;
  }
  // Checked here, not when a task is wired: a service whose tasks can never be wired
  // would otherwise be accepted and fail every task it places.
  std::size_t interfaces = attachments.size() + (publishesIngressPort(spec.ports) ? 1 : 0) + 1;
  if (interfaces > api::kMaxTaskInterfaces) {
    return errorf(ErrorKind::InvalidArgument,
                  "--network: {} networks{} and the gateway link make {} interfaces per task; a "
                  "task has at most {}: give at most {} networks",
                  attachments.size(),
                  publishesIngressPort(spec.ports) ? ", the ingress network (--publish)" : "",
                  interfaces, api::kMaxTaskInterfaces,
                  api::kMaxTaskInterfaces - 1 - (publishesIngressPort(spec.ports) ? 1 : 0));
  }
  if (!publishesIngressPort(spec.ports)) {
    return {};
  }
  const api::Network* ingress = findIngressNetwork(networks);
  if (ingress == nullptr) {
    return std::unexpected(noIngressNetworkError(spec.ports));
  }
  guarded.insert(ingress->id);
  return {};
}

// Compares and rewrites the published-ports guard when the write changes or decides ports.
void guardPorts(store::Txn& txn, store::Revision revision, const std::string& writer) {
  const std::string key(state::keys::kPublishedPortsGuard);
  txn.compares.push_back(store::Compare::modRevisionIs(key, revision));
  txn.success.push_back(store::Operation::put(key, writer));
}

std::string healthJson(const std::optional<api::HealthCheck>& check) {
  return check ? encodeJson(*check) : std::string();
}

}  // namespace

std::string serviceTaskName(const std::string& serviceName, std::int64_t slot,
                            const std::string& nodeId, const std::string& taskId) {
  if (slot > 0) {
    return fmt::format("{}.{}.{}", serviceName, slot, taskId);
  }
  return fmt::format("{}.{}.{}", serviceName, nodeId, taskId);
}

Result<api::ServiceSpec> storedServiceSpec(const api::ServiceSpec& spec) {
  if (auto valid = validateServiceSpec(spec); !valid) {
    return std::unexpected(valid.error());
  }
  api::ServiceSpec stored = spec;
  auto container = validateContainerSpec(spec.container, !spec.command.empty());
  if (!container) {
    return std::unexpected(container.error());
  }
  stored.container = std::move(*container);
  return stored;
}

bool changesTasks(const api::ServiceSpec& before,
                  const std::vector<api::ServiceAttachment>& beforeAttachments,
                  const api::ServiceSpec& after,
                  const std::vector<api::ServiceAttachment>& afterAttachments) {
  auto sameAttachments = [&] {
    if (beforeAttachments.size() != afterAttachments.size()) {
      return false;
    }
    for (std::size_t i = 0; i < beforeAttachments.size(); ++i) {
      if (beforeAttachments[i].networkId != afterAttachments[i].networkId ||
          beforeAttachments[i].aliases != afterAttachments[i].aliases) {
        return false;
      }
    }
    return true;
  };
  return before.command != after.command || before.env != after.env ||
         before.container != after.container || !sameAttachments() ||
         before.constraints != after.constraints ||
         healthJson(before.healthCheck) != healthJson(after.healthCheck) ||
         before.stopGracePeriodMs != after.stopGracePeriodMs;
}

ServiceManager::ServiceManager(store::Store& store, ImageResolver* resolver)
    : store_(store), resolver_(resolver) {}

Result<ServiceWrite> ServiceManager::pinSpecImage(api::ServiceSpec& spec, bool resolve) {
  ServiceWrite write;
  if (spec.container.image.empty()) {
    return write;
  }
  api::RegistrySettings settings;
  if (resolve && resolver_ != nullptr) {
    auto read = readRegistrySettings(store_);
    if (!read) {
      return std::unexpected(read.error());
    }
    settings = std::move(read->settings);
  }
  auto pinned = pinImage(spec.container.image, resolver_, settings, resolve);
  if (!pinned) {
    return std::unexpected(pinned.error());
  }
  if (!pinned->warnings.empty()) {
    spdlog::warn("service {}: {}", spec.name, fmt::join(pinned->warnings, "; "));
  }
  spec.container.image = std::move(pinned->image);
  write.warnings = std::move(pinned->warnings);
  return write;
}

Result<ServiceWrite> ServiceManager::create(const api::ServiceSpec& spec,
                                            const ServiceWriteOptions& options) {
  if (auto valid = validateServiceSpec(spec); !valid) {
    return std::unexpected(valid.error().withContext("service create"));
  }
  api::ServiceSpec pinnedSpec = spec;
  auto write = pinSpecImage(pinnedSpec, options.resolveImage);
  if (!write) {
    return std::unexpected(write.error().withContext("service create"));
  }
  auto service = create(pinnedSpec);
  if (!service) {
    return std::unexpected(service.error());
  }
  write->service = std::move(*service);
  return write;
}

Result<ServiceWrite> ServiceManager::update(const std::string& reference,
                                            const api::ServiceUpdateRequest& request,
                                            const ServiceWriteOptions& options) {
  if (auto valid = validateServiceSpec(request.spec); !valid) {
    return std::unexpected(valid.error().withContext("service update"));
  }
  // Read without the lock: update() below compares the update index, so a service that
  // changed since is refused there, not written over.
  auto current = inspect(reference);
  if (!current) {
    return std::unexpected(current.error().withContext("service update"));
  }
  api::ServiceUpdateRequest pinnedRequest = request;
  bool imageChanged = request.spec.container.image != current->spec.container.image;
  auto write =
      pinSpecImage(pinnedRequest.spec, options.resolveImage && (imageChanged || request.force));
  if (!write) {
    return std::unexpected(write.error().withContext("service update"));
  }
  if (!imageChanged && !request.force) {
    pinnedRequest.spec.container.image = current->spec.container.image;
  } else if (!imageChanged && !write->warnings.empty()) {
    // `--force` could not re-resolve: the digest recorded before is still the best answer.
    pinnedRequest.spec.container.image = current->spec.container.image;
    write->warnings = {fmt::format("the service keeps its image {}: {}",
                                   current->spec.container.image,
                                   fmt::join(write->warnings, "; "))};
  }
  auto service = update(reference, pinnedRequest);
  if (!service) {
    return std::unexpected(service.error());
  }
  write->service = std::move(*service);
  return write;
}

Result<api::Service> ServiceManager::create(const api::ServiceSpec& requested) {
  // What the record holds: the container spec normalised (image reference, paths, signal).
  auto stored = storedServiceSpec(requested);
  if (!stored) {
    return std::unexpected(stored.error().withContext("service create"));
  }
  const api::ServiceSpec& spec = *stored;
  std::lock_guard lock(mutex_);
  for (int attempt = 0; attempt < kMaxServiceWriteAttempts; ++attempt) {
    auto networkRecords = readRecords<api::Network>(store_, state::keys::kNetworks);
    if (!networkRecords) {
      return std::unexpected(networkRecords.error());
    }
    auto networks = valuesOf(std::move(*networkRecords));
    auto attachments = resolveServiceNetworks(spec.networks, networks);
    if (!attachments) {
      return std::unexpected(attachments.error().withContext("service create"));
    }
    std::set<std::string> networkIds;
    for (const auto& attachment : *attachments) {
      networkIds.insert(attachment.networkId);
    }
    if (auto fits = checkPortNetworks(spec, *attachments, networks, networkIds); !fits) {
      return std::unexpected(fits.error().withContext("service create"));
    }
    auto guards = readAttachmentGuards(store_, networkIds);
    if (!guards) {
      return std::unexpected(guards.error());
    }
    auto portsGuard = guardRevision(store_, std::string(state::keys::kPublishedPortsGuard));
    if (!portsGuard) {
      return std::unexpected(portsGuard.error());
    }
    auto services = readRecords<api::Service>(store_, state::keys::kServices);
    if (!services) {
      return std::unexpected(services.error());
    }
    for (const auto& [existing, revision] : *services) {
      if (existing.spec.name == spec.name) {
        return errorf(ErrorKind::Conflict,
                      "service create: a service named {} already exists (ID {}); choose "
                      "another --name or update it with `overmesh service update {}`",
                      spec.name, shortId(existing.id), spec.name);
      }
    }
    auto tasks = readRecords<api::Task>(store_, state::keys::kTasks);
    if (!tasks) {
      return std::unexpected(tasks.error());
    }
    auto serviceList = valuesOf(std::move(*services));
    auto taskList = valuesOf(std::move(*tasks));

    api::Service service;
    service.id = newObjectId();
    service.version = 1;
    service.updateIndex = 1;
    service.spec = spec;
    service.attachments = std::move(*attachments);
    auto vips = vipsFor(spec, service.attachments, {}, networks, taskList, serviceList);
    if (!vips) {
      return std::unexpected(vips.error().withContext("service create"));
    }
    service.vips = std::move(*vips);
    auto ports = decidePublishedPorts(spec.ports, {}, service.id, serviceList);
    if (!ports) {
      return std::unexpected(ports.error().withContext("service create"));
    }
    service.ports = std::move(*ports);
    service.createdAt = nowRfc3339();
    service.updatedAt = service.createdAt;

    store::Txn txn;
    txn.compares.push_back(store::Compare::absent(state::keys::serviceName(spec.name)));
    guardAttachments(txn, *guards, service.id);
    if (!service.ports.empty()) {
      guardPorts(txn, *portsGuard, service.id);
    }
    txn.success.push_back(
        store::Operation::put(state::keys::service(service.id), encodeJson(service)));
    txn.success.push_back(store::Operation::put(state::keys::serviceName(spec.name), service.id));
    auto committed = store_.txn(txn);
    if (!committed) {
      return std::unexpected(committed.error().withContext("service create"));
    }
    if (committed->succeeded) {
      return service;
    }
  }
  return errorf(ErrorKind::Unavailable,
                "service create: the networks kept changing under concurrent requests; retry");
}

Result<std::vector<api::Service>> ServiceManager::list() {
  auto services = readRecords<api::Service>(store_, state::keys::kServices);
  if (!services) {
    return std::unexpected(services.error());
  }
  auto list = valuesOf(std::move(*services));
  std::sort(list.begin(), list.end(),
            [](const auto& a, const auto& b) { return a.spec.name < b.spec.name; });
  return list;
}

namespace {

std::vector<NamedObject> serviceNames(const Records<api::Service>& services) {
  std::vector<NamedObject> named;
  named.reserve(services.size());
  for (const auto& [service, revision] : services) {
    named.push_back({service.id, service.spec.name});
  }
  return named;
}

}  // namespace

Result<api::Service> ServiceManager::inspect(const std::string& reference) {
  auto services = readRecords<api::Service>(store_, state::keys::kServices);
  if (!services) {
    return std::unexpected(services.error());
  }
  auto index = findByReference("service", serviceNames(*services), reference);
  if (!index) {
    return std::unexpected(index.error());
  }
  return (*services)[*index].first;
}

Result<api::Service> ServiceManager::update(const std::string& reference,
                                            const api::ServiceUpdateRequest& given) {
  api::ServiceUpdateRequest request = given;
  auto stored = storedServiceSpec(given.spec);
  if (!stored) {
    return std::unexpected(stored.error().withContext("service update"));
  }
  request.spec = std::move(*stored);
  std::lock_guard lock(mutex_);
  for (int attempt = 0; attempt < kMaxServiceWriteAttempts; ++attempt) {
    auto services = readRecords<api::Service>(store_, state::keys::kServices);
    if (!services) {
      return std::unexpected(services.error());
    }
    auto index = findByReference("service", serviceNames(*services), reference);
    if (!index) {
      return std::unexpected(index.error().withContext("service update"));
    }
    const api::Service current = (*services)[*index].first;
    const store::Revision currentRevision = (*services)[*index].second;
    if (request.spec.name != current.spec.name) {
      return errorf(ErrorKind::InvalidArgument,
                    "service update: --name {} differs from the service's name {}: a service "
                    "cannot be renamed (create a new one and remove this one)",
                    quote(request.spec.name), current.spec.name);
    }
    if (request.spec.mode != current.spec.mode) {
      return errorf(ErrorKind::InvalidArgument,
                    "service update: --mode {} differs from the service's mode {}: the mode "
                    "cannot change (create a new service)",
                    quote(request.spec.mode), current.spec.mode);
    }
    // The update index, not the version: a scale leaves the version as it is, and two
    // updates read at one version would otherwise both pass and the later one undo the
    // earlier.
    if (request.updateIndex != current.updateIndex) {
      return errorf(ErrorKind::Conflict,
                    "service update: service {} was changed by someone else (read at update "
                    "index {}, now {}); read it again and retry",
                    current.spec.name, request.updateIndex, current.updateIndex);
    }
    auto networkRecords = readRecords<api::Network>(store_, state::keys::kNetworks);
    if (!networkRecords) {
      return std::unexpected(networkRecords.error());
    }
    auto networks = valuesOf(std::move(*networkRecords));
    auto attachments = resolveServiceNetworks(request.spec.networks, networks);
    if (!attachments) {
      return std::unexpected(attachments.error().withContext("service update"));
    }
    // Networks newly joined or getting a VIP take part in allocation: their guards.
    std::set<std::string> guardedIds;
    for (const auto& attachment : *attachments) {
      bool wasAttached = std::any_of(
          current.attachments.begin(), current.attachments.end(),
          [&](const api::ServiceAttachment& a) { return a.networkId == attachment.networkId; });
      bool hadVip = std::any_of(
          current.vips.begin(), current.vips.end(),
          [&](const api::ServiceVip& v) { return v.networkId == attachment.networkId; });
      if (!wasAttached || (request.spec.endpointMode == "vip" && !hadVip)) {
        guardedIds.insert(attachment.networkId);
      }
    }
    // The ingress network's guard only when the tasks start to join it: while the service
    // already publishes, `network rm` is held off by the published-ports guard, and a
    // scale would otherwise make concurrent task creations retry.
    std::set<std::string> ingressGuard;
    if (auto fits = checkPortNetworks(request.spec, *attachments, networks, ingressGuard); !fits) {
      return std::unexpected(fits.error().withContext("service update"));
    }
    if (!publishesIngressPort(current.ports)) {
      guardedIds.merge(ingressGuard);
    }
    auto guards = readAttachmentGuards(store_, guardedIds);
    if (!guards) {
      return std::unexpected(guards.error());
    }
    // Read before the services below (which the port decision reads), after the service
    // record above: its own compare covers the service itself.
    auto portsGuard = guardRevision(store_, std::string(state::keys::kPublishedPortsGuard));
    if (!portsGuard) {
      return std::unexpected(portsGuard.error());
    }
    auto otherServices = readRecords<api::Service>(store_, state::keys::kServices);
    if (!otherServices) {
      return std::unexpected(otherServices.error());
    }
    auto tasks = readRecords<api::Task>(store_, state::keys::kTasks);
    if (!tasks) {
      return std::unexpected(tasks.error());
    }
    auto taskList = valuesOf(std::move(*tasks));
    auto serviceList = valuesOf(std::move(*otherServices));

    api::Service updated = current;
    updated.spec = request.spec;
    updated.attachments = std::move(*attachments);
    auto vips =
        vipsFor(request.spec, updated.attachments, current.vips, networks, taskList, serviceList);
    if (!vips) {
      return std::unexpected(vips.error().withContext("service update"));
    }
    updated.vips = std::move(*vips);
    auto ports = decidePublishedPorts(request.spec.ports, current.ports, current.id, serviceList);
    if (!ports) {
      return std::unexpected(ports.error().withContext("service update"));
    }
    updated.ports = std::move(*ports);
    // Tasks join the ingress network only while an ingress-mode port is published: its
    // first one added or last one removed changes what the tasks run. Other port changes
    // do not (agents read Service::ports directly).
    bool ingressChanged =
        publishesIngressPort(current.ports) != publishesIngressPort(updated.ports);
    if (request.force || ingressChanged ||
        changesTasks(current.spec, current.attachments, updated.spec, updated.attachments)) {
      ++updated.version;
    }
    ++updated.updateIndex;
    updated.updatedAt = nowRfc3339();

    store::Txn txn;
    txn.compares.push_back(
        store::Compare::modRevisionIs(state::keys::service(current.id), currentRevision));
    for (const auto& attachment : updated.attachments) {
      txn.compares.push_back(networkExists(attachment.networkId));
    }
    guardAttachments(txn, *guards, current.id);
    if (!current.ports.empty() || !updated.ports.empty()) {
      guardPorts(txn, *portsGuard, current.id);
    }
    txn.success.push_back(
        store::Operation::put(state::keys::service(current.id), encodeJson(updated)));
    auto committed = store_.txn(txn);
    if (!committed) {
      return std::unexpected(committed.error().withContext("service update"));
    }
    if (committed->succeeded) {
      return updated;
    }
  }
  return errorf(ErrorKind::Unavailable,
                "service update: the service or its networks kept changing under concurrent "
                "requests; retry");
}

Result<api::Service> ServiceManager::remove(const std::string& reference) {
  std::lock_guard lock(mutex_);
  for (int attempt = 0; attempt < kMaxServiceWriteAttempts; ++attempt) {
    auto services = readRecords<api::Service>(store_, state::keys::kServices);
    if (!services) {
      return std::unexpected(services.error());
    }
    auto index = findByReference("service", serviceNames(*services), reference);
    if (!index) {
      return std::unexpected(index.error().withContext("service rm"));
    }
    const auto& [service, revision] = (*services)[*index];
    store::Txn txn;
    txn.compares.push_back(
        store::Compare::modRevisionIs(state::keys::service(service.id), revision));
    txn.success.push_back(store::Operation::del(state::keys::service(service.id)));
    txn.success.push_back(store::Operation::del(state::keys::serviceName(service.spec.name)));
    if (!service.ports.empty()) {
      // Frees its ports; moving the guard makes a concurrent decision that saw them taken
      // look again (never needed for safety, only so that it need not refuse).
      txn.success.push_back(
          store::Operation::put(std::string(state::keys::kPublishedPortsGuard), service.id));
    }
    auto committed = store_.txn(txn);
    if (!committed) {
      return std::unexpected(committed.error().withContext("service rm"));
    }
    if (committed->succeeded) {
      return service;
    }
  }
  return errorf(ErrorKind::Unavailable,
                "service rm: the service kept changing while it was being removed; retry");
}

Result<ServiceManager::ViewRead> ServiceManager::readView(std::int64_t nowMs) {
  ViewRead read;
  auto revision = store_.currentRevision();
  if (!revision) {
    return std::unexpected(revision.error());
  }
  read.revision = *revision;
  auto nodes = readValues<api::Node>(store_, state::keys::kNodes);
  if (!nodes) {
    return std::unexpected(nodes.error());
  }
  auto services = readValues<api::Service>(store_, state::keys::kServices);
  if (!services) {
    return std::unexpected(services.error());
  }
  auto tasks = readValues<api::Task>(store_, state::keys::kTasks);
  if (!tasks) {
    return std::unexpected(tasks.error());
  }
  read.view.nodes = std::move(*nodes);
  read.view.services = std::move(*services);
  read.view.tasks = std::move(*tasks);
  read.view.nowMs = nowMs;
  return read;
}

Status ServiceManager::apply(const orchestrator::Decisions& decisions) {
  std::lock_guard lock(mutex_);
  Status result;
  // Each kind is applied even when an earlier one failed: a stuck creation must not keep
  // a failed task in the load balancers. The first failure is reported.
  auto note = [&result](Status status) {
    if (!status && result) {
      result = std::move(status);
    }
  };
  if (!decisions.shutDown.empty()) {
    note(applyShutDowns(decisions.shutDown));
  }
  if (!decisions.remove.empty()) {
    note(applyRemovals(decisions.remove));
  }
  if (!decisions.create.empty()) {
    note(applyCreates(decisions.create));
  }
  for (const auto& [serviceId, problem] : decisions.placementProblems) {
    note(applyPlacementProblem(serviceId, problem));
  }
  return result;
}

Status ServiceManager::editTasks(const std::vector<std::string>& taskIds, std::string_view what,
                                 const TaskEdit& edit) {
  for (int attempt = 0; attempt < kMaxServiceWriteAttempts; ++attempt) {
    store::Txn txn;
    for (const auto& id : taskIds) {
      auto record = store_.get(state::keys::task(id));
      if (!record) {
        return std::unexpected(record.error());
      }
      if (!*record) {
        continue;  // removed meanwhile
      }
      auto task = decodeJson<api::Task>((*record)->value, (*record)->key);
      if (!task) {
        return errorf(ErrorKind::Internal, "corrupt task record: {}", task.error().message);
      }
      auto operations = edit(*task, (*record)->key);
      if (operations.empty()) {
        continue;
      }
      txn.compares.push_back(store::Compare::modRevisionIs((*record)->key, (*record)->modRevision));
      txn.success.insert(txn.success.end(), operations.begin(), operations.end());
    }
    if (txn.success.empty()) {
      return {};
    }
    auto committed = store_.txn(txn);
    if (!committed) {
      return std::unexpected(committed.error().withContext(std::string(what)));
    }
    if (committed->succeeded) {
      return {};
    }
  }
  return errorf(ErrorKind::Unavailable, "{}: the tasks kept changing; will retry", what);
}

Status ServiceManager::applyShutDowns(const std::vector<orchestrator::TaskToShutDown>& shutDowns) {
  std::vector<std::string> ids;
  std::map<std::string, std::string> reasons;
  for (const auto& decision : shutDowns) {
    ids.push_back(decision.taskId);
    reasons[decision.taskId] = decision.reason;
  }
  std::int64_t now = nowMillis();
  return editTasks(ids, "shut tasks down",
                   [&](api::Task& task, const std::string& key) -> std::vector<store::Operation> {
                     if (task.desiredState == "shutdown") {
                       return {};
                     }
                     task.desiredState = "shutdown";
                     task.message = reasons[task.id];
                     task.updatedAtMs = now;
                     return {store::Operation::put(key, encodeJson(task))};
                   });
}

Status ServiceManager::applyRemovals(const std::vector<std::string>& taskIds) {
  return editTasks(taskIds, "remove old tasks",
                   [](api::Task& task, const std::string& key) -> std::vector<store::Operation> {
                     // Only history is deleted: a record the orchestrator wants gone while
                     // the task should still run means the decision is stale.
                     if (task.desiredState != "shutdown") {
                       spdlog::warn("orchestrator: not removing task {}: it is desired {}",
                                    task.name, task.desiredState);
                       return {};
                     }
                     return {store::Operation::del(key),
                             store::Operation::del(state::keys::taskName(task.name))};
                   });
}

namespace {

// Why a create the orchestrator decided on an earlier view no longer fits the service and
// node as they are now read, or nothing when it still fits: a replicated slot above the
// replica count (a scale-down came between), or, for a global service, a node that no longer
// satisfies the constraints or already has a task of this version that should run (one
// created meanwhile, or earlier in the same batch: `placedGlobal` holds those).
std::optional<std::string> createNoLongerFits(const orchestrator::TaskToCreate& decision,
                                              const api::Service& service, const api::Node& node,
                                              const std::vector<api::Task>& tasks,
                                              const std::set<std::string>& placedGlobal) {
  if (service.spec.mode != "global") {
    if (decision.slot < 1 || decision.slot > service.spec.replicas) {
      return fmt::format("slot {} is outside the {} replicas", decision.slot,
                         service.spec.replicas);
    }
    return std::nullopt;
  }
  auto constraints = orchestrator::parseConstraints(service.spec.constraints);
  if (!constraints) {
    return fmt::format("its constraints do not parse: {}", constraints.error().message);
  }
  if (!orchestrator::matches(node, *constraints)) {
    return fmt::format("node {} no longer satisfies its constraints", node.hostname);
  }
  bool present = placedGlobal.contains(service.id + "/" + node.id) ||
                 std::any_of(tasks.begin(), tasks.end(), [&](const api::Task& task) {
                   return task.serviceId == service.id && task.nodeId == node.id &&
                          task.desiredState == "running" &&
                          task.specVersion >= decision.specVersion;
                 });
  if (present) {
    return fmt::format("node {} already has a task of version {}", node.hostname,
                       decision.specVersion);
  }
  return std::nullopt;
}

}  // namespace

Status ServiceManager::applyCreates(const std::vector<orchestrator::TaskToCreate>& creates) {
  for (int attempt = 0; attempt < kMaxServiceWriteAttempts; ++attempt) {
    // Guards first, then what they protect (see readAttachmentGuards). The ingress
    // network's ID is needed to know its guard; a network removed after this read fails
    // the networkExists compare that comes with each guard.
    auto earlyNetworks = readValues<api::Network>(store_, state::keys::kNetworks);
    if (!earlyNetworks) {
      return std::unexpected(earlyNetworks.error());
    }
    const api::Network* earlyIngress = findIngressNetwork(*earlyNetworks);
    auto serviceRecords = readRecords<api::Service>(store_, state::keys::kServices);
    if (!serviceRecords) {
      return std::unexpected(serviceRecords.error());
    }
    std::map<std::string, std::pair<const api::Service*, store::Revision>> servicesById;
    std::set<std::string> networkIds;
    for (const auto& [service, revision] : *serviceRecords) {
      servicesById[service.id] = {&service, revision};
    }
    for (const auto& decision : creates) {
      if (auto it = servicesById.find(decision.serviceId); it != servicesById.end()) {
        for (const auto& attachment : it->second.first->attachments) {
          networkIds.insert(attachment.networkId);
        }
        if (earlyIngress != nullptr && publishesIngressPort(it->second.first->ports)) {
          networkIds.insert(earlyIngress->id);
        }
      }
    }
    auto guards = readAttachmentGuards(store_, networkIds);
    if (!guards) {
      return std::unexpected(guards.error());
    }
    // Re-read the services after the guards, so that a VIP allocated in between is seen.
    auto services = readRecords<api::Service>(store_, state::keys::kServices);
    if (!services) {
      return std::unexpected(services.error());
    }
    servicesById.clear();
    for (const auto& [service, revision] : *services) {
      servicesById[service.id] = {&service, revision};
    }
    auto networkRecords = readRecords<api::Network>(store_, state::keys::kNetworks);
    if (!networkRecords) {
      return std::unexpected(networkRecords.error());
    }
    auto nodeRecords = readRecords<api::Node>(store_, state::keys::kNodes);
    if (!nodeRecords) {
      return std::unexpected(nodeRecords.error());
    }
    auto taskRecords = readRecords<api::Task>(store_, state::keys::kTasks);
    if (!taskRecords) {
      return std::unexpected(taskRecords.error());
    }
    auto networks = valuesOf(std::move(*networkRecords));
    auto tasks = valuesOf(std::move(*taskRecords));
    std::vector<api::Node> nodes;
    for (const auto& [node, revision] : *nodeRecords) {
      nodes.push_back(node);
    }
    const api::Network* ingress = findIngressNetwork(networks);
    std::vector<api::Service> serviceList;
    for (const auto& [service, revision] : *services) {
      serviceList.push_back(service);
    }
    std::map<std::string, std::set<Ipv4Address>> used;  // per network, filled on first use

    store::Txn txn;
    std::set<std::string> comparedServices;
    std::set<std::string> comparedNodes;
    std::set<std::string> placedGlobal;  // "serviceId/nodeId" created in this batch
    std::map<std::string, store::Revision> touchedGuards;
    std::int64_t now = nowMillis();
    std::string createdAt = nowRfc3339();
    for (const auto& decision : creates) {
      auto serviceIt = servicesById.find(decision.serviceId);
      if (serviceIt == servicesById.end()) {
        continue;  // removed meanwhile
      }
      const auto& [service, serviceRevision] = serviceIt->second;
      if (service->version != decision.specVersion) {
        spdlog::debug("orchestrator: service {} is at version {}, not {}: task not created",
                      service->spec.name, service->version, decision.specVersion);
        continue;
      }
      auto nodeIt = std::find_if(nodeRecords->begin(), nodeRecords->end(),
                                 [&](const auto& n) { return n.first.id == decision.nodeId; });
      if (nodeIt == nodeRecords->end() || nodeIt->first.state != "ready") {
        continue;  // gone or down meanwhile: the next reconcile places it elsewhere
      }
      const api::Node& node = nodeIt->first;
      // The service's and the node's mod revisions are compared below, so a scale-down or
      // a label change after this read fails the transaction and the retry sees it.
      if (auto reason = createNoLongerFits(decision, *service, node, tasks, placedGlobal)) {
        spdlog::debug("orchestrator: service {}: task for slot {} on {} not created: {}",
                      service->spec.name, decision.slot, node.hostname, *reason);
        continue;
      }

      api::Task task;
      task.id = newObjectId();
      task.name = serviceTaskName(service->spec.name, decision.slot, node.id, task.id);
      task.serviceId = service->id;
      task.serviceName = service->spec.name;
      task.slot = decision.slot;
      task.specVersion = decision.specVersion;
      task.nodeId = node.id;
      task.nodeName = node.hostname;
      task.command = service->spec.command;
      task.env = service->spec.env;
      task.container = service->spec.container;
      task.healthCheck = service->spec.healthCheck;
      task.stopGracePeriodMs = service->spec.stopGracePeriodMs;
      task.health = task.healthCheck ? "starting" : "";
      task.desiredState = "running";
      task.state = "pending";
      task.message = "assigned to " + node.hostname;
      task.createdAt = createdAt;
      task.updatedAtMs = now;
      // The spec's networks in order, then the ingress network when the service
      // publishes an ingress-mode port (not in service->attachments: no DNS, no VIP).
      std::vector<const api::Network*> joined;
      bool allocated = true;
      for (const auto& attachment : service->attachments) {
        joined.push_back(findNetwork(networks, attachment.networkId));
      }
      if (publishesIngressPort(service->ports)) {
        if (ingress == nullptr || !guards->contains(ingress->id)) {
          // Removed, or replaced since the guards were read: the next attempt or
          // reconcile decides again.
          spdlog::warn(
              "service {}: task for slot {} not created: it publishes an ingress "
              "port and the ingress network is gone or changed",
              service->spec.name, decision.slot);
          continue;
        }
        joined.push_back(ingress);
      }
      for (const api::Network* network : joined) {
        if (network == nullptr) {
          allocated = false;
          break;
        }
        if (!used.contains(network->id)) {
          used[network->id] = usedAddresses(*network, tasks, serviceList, nodes);
        }
        auto address = allocateAddress(*network, used[network->id]);
        if (!address) {
          spdlog::warn("service {}: task for slot {} not created: {}", service->spec.name,
                       decision.slot, address.error().message);
          allocated = false;
          break;
        }
        auto parsed = Ipv4Prefix::parse(*address);
        task.attachments.push_back(
            {network->id, network->name, *address, macForIp(parsed->address()).toString()});
      }
      if (!allocated) {
        continue;
      }
      if (service->spec.mode == "global") {
        placedGlobal.insert(service->id + "/" + node.id);
      }
      for (const auto& attachment : task.attachments) {
        touchedGuards[attachment.networkId] = (*guards)[attachment.networkId];
      }
      if (comparedServices.insert(service->id).second) {
        txn.compares.push_back(
            store::Compare::modRevisionIs(state::keys::service(service->id), serviceRevision));
      }
      if (comparedNodes.insert(node.id).second) {
        txn.compares.push_back(
            store::Compare::modRevisionIs(state::keys::node(node.id), nodeIt->second));
      }
      txn.compares.push_back(store::Compare::absent(state::keys::taskName(task.name)));
      txn.success.push_back(store::Operation::put(state::keys::task(task.id), encodeJson(task)));
      txn.success.push_back(store::Operation::put(state::keys::taskName(task.name), task.id));
    }
    if (txn.success.empty()) {
      return {};
    }
    guardAttachments(txn, touchedGuards, "service tasks");
    auto committed = store_.txn(txn);
    if (!committed) {
      return std::unexpected(committed.error().withContext("create service tasks"));
    }
    if (committed->succeeded) {
      return {};
    }
  }
  return errorf(ErrorKind::Unavailable,
                "create service tasks: the cluster kept changing under concurrent requests; "
                "will retry");
}

Status ServiceManager::applyPlacementProblem(const std::string& serviceId,
                                             const std::string& problem) {
  for (int attempt = 0; attempt < kMaxServiceWriteAttempts; ++attempt) {
    auto record = store_.get(state::keys::service(serviceId));
    if (!record) {
      return std::unexpected(record.error());
    }
    if (!*record) {
      return {};
    }
    auto service = decodeJson<api::Service>((*record)->value, (*record)->key);
    if (!service) {
      return errorf(ErrorKind::Internal, "corrupt service record: {}", service.error().message);
    }
    if (service->placementProblem == problem) {
      return {};
    }
    service->placementProblem = problem;
    store::Txn txn;
    txn.compares.push_back(store::Compare::modRevisionIs((*record)->key, (*record)->modRevision));
    txn.success.push_back(store::Operation::put((*record)->key, encodeJson(*service)));
    auto committed = store_.txn(txn);
    if (!committed) {
      return std::unexpected(committed.error());
    }
    if (committed->succeeded) {
      return {};
    }
  }
  return errorf(ErrorKind::Unavailable, "service {} kept changing; placement problem not written",
                serviceId);
}

}  // namespace overmesh::manager
