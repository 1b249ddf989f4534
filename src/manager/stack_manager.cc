#include "manager/stack_manager.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <optional>
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

const std::string* stackOf(const api::Labels& labels) {
  auto label = labels.find(api::kStackNamespaceLabel);
  return label == labels.end() ? nullptr : &label->second;
}

bool labelledWith(const api::Labels& labels, const std::string& stack) {
  const std::string* owner = stackOf(labels);
  return owner != nullptr && *owner == stack;
}

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

// The checks of each service that need no write: its stack label, its spec as a record
// would hold it, and its networks resolved against `known` (the cluster's networks and
// those the deploy will create). Without `known` (the network rules failed and said why),
// the networks are not checked again.
void checkServices(const api::StackDeployRequest& request,
                   const std::optional<std::vector<api::Network>>& known, ProblemList& problems) {
  for (const auto& spec : request.services) {
    if (!labelledWith(spec.labels, request.stack)) {
      problems.add(ErrorKind::InvalidArgument,
                   fmt::format("service {}: label {} must be {}: a stack's services are found "
                               "by it",
                               quote(spec.name), api::kStackNamespaceLabel, request.stack));
      continue;
    }
    if (auto stored = storedServiceSpec(spec); !stored) {
      problems.add(stored.error().kind,
                   fmt::format("service {}: {}", spec.name, stored.error().message));
      continue;
    }
    if (!known) {
      continue;
    }
    if (auto attachments = resolveServiceNetworks(spec.networks, *known); !attachments) {
      problems.add(attachments.error().kind,
                   fmt::format("service {}: {}", spec.name, attachments.error().message));
    }
  }
}

}  // namespace

std::vector<api::StackSummary> summarizeStacks(const std::vector<api::Service>& services,
                                               const std::vector<api::Network>& networks) {
  std::map<std::string, api::StackSummary> stacks;
  auto entry = [&stacks](const std::string& name) -> api::StackSummary& {
    api::StackSummary& summary = stacks[name];
    summary.name = name;
    return summary;
  };
  for (const auto& service : services) {
    if (const std::string* stack = stackOf(service.spec.labels)) {
      ++entry(*stack).services;
    }
  }
  for (const auto& network : networks) {
    if (const std::string* stack = stackOf(network.labels)) {
      ++entry(*stack).networks;
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

Result<api::StackDeployReply> StackManager::deploy(const api::StackDeployRequest& request) {
  std::lock_guard lock(mutex_);
  const std::string& stack = request.stack;
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
  auto existingNetworks = networks_.list();
  if (!existingNetworks) {
    return std::unexpected(existingNetworks.error().withContext("stack deploy"));
  }
  auto existingServices = services_.list();
  if (!existingServices) {
    return std::unexpected(existingServices.error().withContext("stack deploy"));
  }

  // 1. Everything that can be checked before a write, all problems in one error.
  ProblemList problems;
  auto networkPlan = planStackNetworks(stack, request.networks, *existingNetworks);
  std::optional<std::vector<api::Network>> known;
  if (!networkPlan) {
    problems.add(networkPlan.error());
  } else {
    // The networks to create, as if they existed, so the services' references resolve.
    known = *existingNetworks;
    for (const auto& create : networkPlan->toCreate) {
      api::Network pending;
      pending.id = "to-be-created:" + create.name;
      pending.name = create.name;
      pending.driver = create.driver;
      pending.attachable = create.attachable;
      pending.internal = create.internal;
      pending.labels = create.labels;
      known->push_back(std::move(pending));
    }
  }
  checkServices(request, known, problems);
  if (!problems.empty()) {
    return std::unexpected(problems.error());
  }

  // 2. The images, per --resolve-image (registry I/O: no store lock is held).
  std::vector<api::ServiceSpec> desired = request.services;
  std::vector<std::string> warnings;
  for (auto& spec : desired) {
    if (spec.container.image.empty() || mode == "never") {
      continue;
    }
    const api::Service* current = findService(*existingServices, spec.name);
    bool sameText = current != nullptr && labelledWith(current->spec.labels, stack) &&
                    writtenImage(current->spec) == writtenImage(spec);
    if (mode == "changed" && sameText) {
      spec.container.image = current->spec.container.image;
      continue;
    }
    auto pinned = services_.pinSpecImage(spec, true);
    if (!pinned) {
      problems.add(pinned.error().kind,
                   fmt::format("service {}: {}", spec.name, pinned.error().message));
      continue;
    }
    if (!pinned->warnings.empty() && sameText) {
      // Could not re-resolve: the digest recorded at the last deploy is still the best one.
      spec.container.image = current->spec.container.image;
      warnings.push_back(fmt::format("service {} keeps its image {}: {}", spec.name,
                                     current->spec.container.image,
                                     fmt::join(pinned->warnings, "; ")));
      continue;
    }
    warnings.insert(warnings.end(), pinned->warnings.begin(), pinned->warnings.end());
  }
  if (!problems.empty()) {
    return std::unexpected(problems.error());
  }

  // 3. Which services to create, update, leave and remove.
  auto servicePlan = planStackServices(stack, desired, *existingServices, request.prune);
  if (!servicePlan) {
    return std::unexpected(servicePlan.error());
  }

  // 4. The writes; a failure removes what this deploy created.
  api::StackDeployReply reply;
  reply.warnings = std::move(warnings);
  std::vector<std::pair<std::string, std::string>> createdNetworks;  // id, name
  std::vector<std::pair<std::string, std::string>> createdServices;  // id, name
  auto rollBack = [&](const Error& error) -> std::unexpected<Error> {
    std::vector<std::string> undone;
    std::vector<std::string> failed;
    std::vector<std::string> serviceIds;
    for (auto it = createdServices.rbegin(); it != createdServices.rend(); ++it) {
      if (auto removed = services_.remove(it->first); removed) {
        undone.push_back("service " + it->second);
        serviceIds.push_back(it->first);
      } else {
        failed.push_back(fmt::format("service {}: {}", it->second, removed.error().message));
      }
    }
    if (!createdNetworks.empty()) {
      waitForTasksGone(serviceIds);
    }
    for (auto it = createdNetworks.rbegin(); it != createdNetworks.rend(); ++it) {
      if (auto removed = networks_.remove(it->first); removed) {
        undone.push_back("network " + it->second);
      } else {
        failed.push_back(fmt::format("network {}: {}", it->second, removed.error().message));
      }
    }
    std::string message = error.message;
    if (!undone.empty()) {
      message += fmt::format("\nrolled back: removed {}", fmt::join(undone, ", "));
    }
    if (!failed.empty()) {
      message += fmt::format("\ncould not roll back: {}", fmt::join(failed, "; "));
    }
    if (!reply.servicesUpdated.empty()) {
      std::vector<std::string> names;
      for (const auto& service : reply.servicesUpdated) {
        names.push_back(service.spec.name);
      }
      message +=
          fmt::format("\nalready updated (they keep their new spec): {}", fmt::join(names, ", "));
    }
    spdlog::warn("stack deploy {} failed: {}", stack, message);
    return std::unexpected(Error{error.kind, std::move(message)});
  };

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
      return rollBack(written.error());
    }
    createdServices.emplace_back(written->service.id, written->service.spec.name);
    reply.servicesCreated.push_back(written->service.spec.name);
    reply.warnings.insert(reply.warnings.end(), written->warnings.begin(), written->warnings.end());
  }
  for (const auto& update : servicePlan->toUpdate) {
    auto written =
        services_.update(update.serviceId, {update.spec, update.updateIndex, false}, decided);
    if (!written) {
      return rollBack(written.error());
    }
    reply.warnings.insert(reply.warnings.end(), written->warnings.begin(), written->warnings.end());
    reply.servicesUpdated.push_back(std::move(written->service));
  }
  reply.servicesUnchanged = servicePlan->unchanged;
  for (const auto& id : servicePlan->toRemove) {
    auto removed = services_.remove(id);
    if (!removed) {
      return rollBack(removed.error());
    }
    reply.servicesRemoved.push_back(removed->spec.name);
  }
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
    if (labelledWith(service.spec.labels, stack)) {
      stackServices.push_back(&service);
    }
  }
  std::vector<const api::Network*> stackNetworks;  // ordered by name
  for (const auto& network : *networks) {
    // Never one the stack only uses: an external network does not carry its label.
    if (labelledWith(network.labels, stack)) {
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
