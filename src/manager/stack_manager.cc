#include "manager/stack_manager.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <set>
#include <thread>

#include "common/quote.h"
#include "manager/network_rules.h"
#include "manager/problem_list.h"
#include "manager/service_validation.h"
#include "manager/stack_network_rules.h"
#include "manager/stack_service_plan.h"
#include "manager/store_records.h"
#include "state/keys.h"

namespace overmesh::manager {
namespace {

// The image text the file wrote, as the service's label records it (the image itself when
// the label is missing).
std::string writtenImage(const api::ServiceSpec& spec) {
  auto label = spec.labels.find(api::kStackImageLabel);
  return label == spec.labels.end() ? spec.container.image : label->second;
}

const api::Service* findService(const std::vector<api::Service>& services,
                                const std::string& name) {
  auto it = std::find_if(services.begin(), services.end(),
                         [&](const api::Service& service) { return service.spec.name == name; });
  return it == services.end() ? nullptr : &*it;
}

}  // namespace

std::vector<api::StackSummary> summarizeStacks(const std::vector<api::Service>& services,
                                               const std::vector<api::Network>& networks) {
  // As Docker: a stack is listed for its services; networks left behind (a removal that
  // could not remove them) do not make one, they are only counted for a listed stack.
  std::map<std::string, api::StackSummary> stacks;
  for (const auto& service : services) {
    auto label = service.spec.labels.find(api::kStackNamespaceLabel);
    if (label != service.spec.labels.end()) {
      api::StackSummary& summary = stacks[label->second];
      summary.name = label->second;
      ++summary.services;
    }
  }
  for (const auto& network : networks) {
    auto label = network.labels.find(api::kStackNamespaceLabel);
    if (label == network.labels.end()) {
      continue;
    }
    if (auto stack = stacks.find(label->second); stack != stacks.end()) {
      ++stack->second.networks;
    }
  }
  std::vector<api::StackSummary> result;
  result.reserve(stacks.size());
  for (auto& [name, summary] : stacks) {
    result.push_back(std::move(summary));
  }
  return result;
}

StackManager::StackManager(store::Store& store, NetworkManager& networks, ServiceManager& services,
                           StackManagerOptions options)
    : store_(store), networks_(networks), services_(services), options_(options) {}

bool StackManager::waitForTasksGone(const std::vector<std::string>& serviceIds) {
  if (serviceIds.empty()) {
    return true;
  }
  std::set<std::string> ids(serviceIds.begin(), serviceIds.end());
  auto deadline = std::chrono::steady_clock::now() + options_.taskDrainTimeout;
  while (true) {
    auto tasks = readValues<api::Task>(store_, state::keys::kTasks);
    if (tasks && std::none_of(tasks->begin(), tasks->end(), [&](const api::Task& task) {
          return ids.contains(task.serviceId);
        })) {
      return true;
    }
    if (!tasks) {
      spdlog::warn("stack: reading tasks while waiting for them to stop: {}",
                   tasks.error().message);
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return false;
    }
    std::this_thread::sleep_for(options_.taskDrainPoll);
  }
}

Status checkStackDeployBounds(const api::StackDeployRequest& request) {
  if (request.services.size() > kMaxStackServices) {
    return errorf(ErrorKind::InvalidArgument,
                  "stack deploy: stack {} has {} services: a stack has at most {}", request.stack,
                  request.services.size(), kMaxStackServices);
  }
  if (request.networks.size() > kMaxStackNetworks) {
    return errorf(ErrorKind::InvalidArgument,
                  "stack deploy: stack {} uses {} networks: a stack uses at most {}", request.stack,
                  request.networks.size(), kMaxStackNetworks);
  }
  if (request.serviceSources.size() > request.services.size()) {
    return errorf(ErrorKind::InvalidArgument,
                  "stack deploy: serviceSources has {} entries for {} services: give at most one "
                  "per service",
                  request.serviceSources.size(), request.services.size());
  }
  for (const auto& [name, source] : request.serviceSources) {
    if (name.size() > kMaxStackKeyBytes || source.size() > kMaxStackSourceBytes) {
      return errorf(ErrorKind::InvalidArgument,
                    "stack deploy: serviceSources entry {} is {} + {} bytes long: a service "
                    "name has at most {} bytes and its source at most {}",
                    quote(name.substr(0, kMaxStackKeyBytes)), name.size(), source.size(),
                    kMaxStackKeyBytes, kMaxStackSourceBytes);
    }
  }
  for (const auto& network : request.networks) {
    if (network.key.empty() || network.key.size() > kMaxStackKeyBytes) {
      return errorf(ErrorKind::InvalidArgument,
                    "stack deploy: network key {} is {} bytes long: give 1-{} bytes",
                    quote(network.key.substr(0, kMaxStackKeyBytes)), network.key.size(),
                    kMaxStackKeyBytes);
    }
    if (network.source.size() > kMaxStackSourceBytes) {
      return errorf(ErrorKind::InvalidArgument,
                    "stack deploy: the source of networks.{} is {} bytes long: give at most {}",
                    network.key, network.source.size(), kMaxStackSourceBytes);
    }
  }
  return {};
}

std::string rollbackReport(const std::string& stack, const RollbackOutcome& outcome) {
  std::string report;
  if (!outcome.restored.empty()) {
    report += fmt::format("\nrolled back: restored the previous spec of service {}",
                          fmt::join(outcome.restored, ", "));
  }
  if (!outcome.removed.empty()) {
    report += fmt::format("\nrolled back: removed {}", fmt::join(outcome.removed, ", "));
  }
  if (!outcome.failed.empty()) {
    report += fmt::format("\ncould not roll back: {}", fmt::join(outcome.failed, "; "));
  }
  if (!outcome.stuckNetworks.empty()) {
    report += fmt::format(
        "\nnetwork {} still had tasks attached when the deploy gave up waiting for them: once "
        "they stopped, clean up with overmesh stack rm {} (it removes the whole stack), or "
        "overmesh network rm {}",
        fmt::join(outcome.stuckNetworks, ", "), stack, fmt::join(outcome.stuckNetworks, " "));
  }
  if (!outcome.pruned.empty()) {
    report += fmt::format("\nremoved by --prune before the failure (not restored): service {}",
                          fmt::join(outcome.pruned, ", "));
  }
  return report;
}

Result<api::StackDeployReply> StackManager::deploy(const api::StackDeployRequest& request) {
  const std::string& stack = request.stack;
  // 1. The request alone: nothing is read or locked yet.
  if (auto valid = validateObjectName("stack", stack); !valid) {
    return std::unexpected(valid.error().withContext("stack deploy"));
  }
  const std::string& mode = request.resolveImage;
  if (mode != "always" && mode != "changed" && mode != "never") {
    return errorf(ErrorKind::InvalidArgument,
                  "stack deploy: --resolve-image {} is not valid: use always, changed or never",
                  quote(mode));
  }
  if (request.services.empty()) {
    return errorf(ErrorKind::InvalidArgument,
                  "stack deploy: stack {} has no services: a compose file for a stack defines "
                  "at least one under services:",
                  stack);
  }
  if (auto bounded = checkStackDeployBounds(request); !bounded) {
    return std::unexpected(bounded.error());
  }
  const auto& sources = request.serviceSources;
  ProblemList problems;
  // Each spec in the form its record holds, computed once per deploy: the plan compares
  // these with the stored specs and the writes store them.
  std::vector<api::ServiceSpec> desired;
  desired.reserve(request.services.size());
  for (const auto& spec : request.services) {
    if (!api::inStack(spec.labels, stack)) {
      problems.add(
          ErrorKind::InvalidArgument,
          withServiceSource(sources, spec.name,
                            fmt::format("service {}: label {} must be {}: a stack's "
                                        "services are found by it",
                                        quote(spec.name), api::kStackNamespaceLabel, stack)));
      continue;
    }
    auto stored = storedServiceSpec(spec);
    if (!stored) {
      problems.add(stored.error().kind, withServiceSource(sources, spec.name,
                                                          fmt::format("service {}: {}", spec.name,
                                                                      stored.error().message)));
      continue;
    }
    desired.push_back(std::move(*stored));
  }
  if (!problems.empty()) {
    return std::unexpected(problems.error());
  }

  // 2. The images, per --resolve-image: registry I/O, so before the lock and before the
  // reads the plan uses. The services read here only decide what to resolve.
  std::vector<std::string> warnings;
  if (mode != "never") {
    auto current = services_.list();
    if (!current) {
      return std::unexpected(current.error().withContext("stack deploy"));
    }
    for (auto& spec : desired) {
      if (spec.container.image.empty()) {
        continue;
      }
      const api::Service* stored = findService(*current, spec.name);
      bool sameText = stored != nullptr && api::inStack(stored->spec.labels, stack) &&
                      writtenImage(stored->spec) == writtenImage(spec);
      if (mode == "changed" && sameText) {
        spec.container.image = stored->spec.container.image;
        continue;
      }
      auto pinned = services_.pinSpecImage(spec, true);
      if (!pinned) {
        problems.add(pinned.error().kind, withServiceSource(sources, spec.name,
                                                            fmt::format("service {}: {}", spec.name,
                                                                        pinned.error().message)));
        continue;
      }
      if (!pinned->warnings.empty() && sameText) {
        // Could not re-resolve: the digest recorded at the last deploy is still the best.
        spec.container.image = stored->spec.container.image;
        warnings.push_back(fmt::format("service {} keeps its image {}: {}", spec.name,
                                       stored->spec.container.image,
                                       fmt::join(pinned->warnings, "; ")));
        continue;
      }
      warnings.insert(warnings.end(), pinned->warnings.begin(), pinned->warnings.end());
    }
    if (!problems.empty()) {
      return std::unexpected(problems.error());
    }
  }

  // 3. Under the lock: fresh reads (so the plan's updateIndex values are current), every
  // check against the cluster, and the plan.
  std::lock_guard lock(mutex_);
  auto existingNetworks = networks_.list();
  if (!existingNetworks) {
    return std::unexpected(existingNetworks.error().withContext("stack deploy"));
  }
  auto existingServices = services_.list();
  if (!existingServices) {
    return std::unexpected(existingServices.error().withContext("stack deploy"));
  }
  auto networkPlan =
      planStackNetworks(stack, request.networks, *existingNetworks, request.services);
  if (!networkPlan) {
    problems.add(networkPlan.error());
  } else {
    // The networks to create, as if they existed, so the services' references resolve.
    std::vector<api::Network> known = *existingNetworks;
    for (const auto& create : networkPlan->toCreate) {
      api::Network pending;
      pending.id = "to-be-created:" + create.name;
      pending.name = create.name;
      pending.driver = create.driver;
      pending.attachable = create.attachable;
      pending.internal = create.internal;
      pending.labels = create.labels;
      known.push_back(std::move(pending));
    }
    for (const auto& spec : desired) {
      if (auto attachments = resolveServiceNetworks(spec.networks, known); !attachments) {
        problems.add(attachments.error().kind,
                     withServiceSource(
                         sources, spec.name,
                         fmt::format("service {}: {}", spec.name, attachments.error().message)));
      }
    }
  }
  auto servicePlan = planStackServices(stack, desired, *existingServices, request.prune, sources);
  if (!servicePlan) {
    problems.add(servicePlan.error());
  }
  if (!problems.empty()) {
    return std::unexpected(problems.error());
  }

  // 4. The writes: prune first (as Docker: the services dropped from the file go before
  // anything is created), then networks, new services, updated services. A failure undoes
  // the updates, then removes what this deploy created.
  api::StackDeployReply reply;
  reply.warnings = std::move(warnings);
  std::vector<std::pair<std::string, std::string>> createdNetworks;  // id, name
  std::vector<std::pair<std::string, std::string>> createdServices;  // id, name
  struct Updated {
    std::string id;
    std::int64_t updateIndex;  // after this deploy's write
    const api::ServiceSpec* previous;
  };
  std::vector<Updated> updated;
  auto rollBack = [&](const Error& error) -> std::unexpected<Error> {
    RollbackOutcome outcome;
    outcome.pruned = reply.servicesRemoved;
    const ServiceWriteOptions asStored{false};
    for (auto it = updated.rbegin(); it != updated.rend(); ++it) {
      auto restored = services_.update(it->id, {*it->previous, it->updateIndex, false}, asStored);
      if (restored) {
        outcome.restored.push_back(it->previous->name);
      } else {
        outcome.failed.push_back(fmt::format("service {} keeps its new spec: {}",
                                             it->previous->name, restored.error().message));
      }
    }
    std::vector<std::string> serviceIds;
    for (auto it = createdServices.rbegin(); it != createdServices.rend(); ++it) {
      if (auto removed = services_.remove(it->first); removed) {
        outcome.removed.push_back("service " + it->second);
        serviceIds.push_back(it->first);
      } else {
        outcome.failed.push_back(
            fmt::format("service {}: {}", it->second, removed.error().message));
      }
    }
    if (!createdNetworks.empty()) {
      waitForTasksGone(serviceIds);
    }
    for (auto it = createdNetworks.rbegin(); it != createdNetworks.rend(); ++it) {
      if (auto removed = networks_.remove(it->first); removed) {
        outcome.removed.push_back("network " + it->second);
      } else {
        outcome.failed.push_back(
            fmt::format("network {}: {}", it->second, removed.error().message));
        outcome.stuckNetworks.push_back(it->second);
      }
    }
    std::string message = error.message + rollbackReport(stack, outcome);
    spdlog::warn("stack deploy {} failed: {}", stack, message);
    return std::unexpected(Error{error.kind, std::move(message)});
  };
  // Whether a failed write is about a service the file declared: its message says where.
  auto serviceFailure = [&](const std::string& name, const Error& error) {
    return Error{error.kind, withServiceSource(sources, name, error.message)};
  };

  for (const auto& id : servicePlan->toRemove) {
    auto removed = services_.remove(id);
    if (!removed) {
      return rollBack(removed.error());
    }
    reply.servicesRemoved.push_back(removed->spec.name);
  }
  for (const auto& create : networkPlan->toCreate) {
    auto network = networks_.create(create);
    if (!network) {
      return rollBack(network.error());
    }
    createdNetworks.emplace_back(network->id, network->name);
    reply.networksCreated.push_back(network->name);
  }
  const ServiceWriteOptions decided{false};  // the images were decided above
  for (const auto& spec : servicePlan->toCreate) {
    auto written = services_.create(spec, decided);
    if (!written) {
      return rollBack(serviceFailure(spec.name, written.error()));
    }
    createdServices.emplace_back(written->service.id, written->service.spec.name);
    reply.servicesCreated.push_back(written->service.spec.name);
    reply.warnings.insert(reply.warnings.end(), written->warnings.begin(), written->warnings.end());
  }
  for (const auto& update : servicePlan->toUpdate) {
    auto written =
        services_.update(update.serviceId, {update.spec, update.updateIndex, false}, decided);
    if (!written) {
      return rollBack(serviceFailure(update.spec.name, written.error()));
    }
    updated.push_back({update.serviceId, written->service.updateIndex, &update.previous});
    reply.warnings.insert(reply.warnings.end(), written->warnings.begin(), written->warnings.end());
    reply.servicesUpdated.push_back(std::move(written->service));
  }
  reply.servicesUnchanged = servicePlan->unchanged;
  spdlog::info(
      "stack deployed name={} networks_created={} services_created={} updated={} "
      "unchanged={} removed={}",
      stack, reply.networksCreated.size(), reply.servicesCreated.size(),
      reply.servicesUpdated.size(), reply.servicesUnchanged.size(), reply.servicesRemoved.size());
  return reply;
}

Result<std::vector<api::StackSummary>> StackManager::list() {
  auto services = services_.list();
  if (!services) {
    return std::unexpected(services.error());
  }
  auto networks = networks_.list();
  if (!networks) {
    return std::unexpected(networks.error());
  }
  return summarizeStacks(*services, *networks);
}

Result<api::StackRemoveReply> StackManager::remove(const std::string& stack) {
  std::lock_guard lock(mutex_);
  if (auto valid = validateObjectName("stack", stack); !valid) {
    return std::unexpected(valid.error().withContext("stack rm"));
  }
  auto services = services_.list();
  if (!services) {
    return std::unexpected(services.error().withContext("stack rm"));
  }
  auto networks = networks_.list();
  if (!networks) {
    return std::unexpected(networks.error().withContext("stack rm"));
  }
  std::vector<const api::Service*> stackServices;  // ordered by name, as list() returns
  for (const auto& service : *services) {
    if (api::inStack(service.spec.labels, stack)) {
      stackServices.push_back(&service);
    }
  }
  std::vector<const api::Network*> stackNetworks;  // ordered by name
  for (const auto& network : *networks) {
    // Never one the stack only uses: an external network does not carry its label.
    if (api::inStack(network.labels, stack)) {
      stackNetworks.push_back(&network);
    }
  }
  if (stackServices.empty() && stackNetworks.empty()) {
    return errorf(ErrorKind::NotFound, "Nothing found in stack: {}", stack);
  }
  api::StackRemoveReply reply;
  std::vector<std::string> removedIds;
  for (const api::Service* service : stackServices) {
    auto removed = services_.remove(service->id);
    if (!removed) {
      reply.errors.push_back(fmt::format("Failed to remove service {}: {}", service->spec.name,
                                         removed.error().message));
      continue;
    }
    removedIds.push_back(service->id);
    reply.servicesRemoved.push_back(service->spec.name);
  }
  if (!stackNetworks.empty() && !waitForTasksGone(removedIds)) {
    spdlog::warn("stack rm {}: tasks of its services still stop after {} ms", stack,
                 options_.taskDrainTimeout.count());
  }
  for (const api::Network* network : stackNetworks) {
    auto removed = networks_.remove(network->id);
    if (!removed) {
      reply.errors.push_back(
          fmt::format("Failed to remove network {}: {}", network->name, removed.error().message));
      continue;
    }
    reply.networksRemoved.push_back(network->name);
  }
  spdlog::info("stack removed name={} services={} networks={} errors={}", stack,
               reply.servicesRemoved.size(), reply.networksRemoved.size(), reply.errors.size());
  return reply;
}

}  // namespace overmesh::manager
