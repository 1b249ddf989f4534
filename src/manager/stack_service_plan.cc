#include "manager/stack_service_plan.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>

#include "api/stack_types.h"
#include "common/ids.h"
#include "common/json.h"
#include "common/quote.h"
#include "manager/problem_list.h"
#include "manager/service_manager.h"

namespace overmesh::manager {
namespace {

bool inStack(const api::Service& service, const std::string& stack) {
  auto label = service.spec.labels.find(api::kStackNamespaceLabel);
  return label != service.spec.labels.end() && label->second == stack;
}

}  // namespace

Result<StackServicePlan> planStackServices(const std::string& stack,
                                           const std::vector<api::ServiceSpec>& desired,
                                           const std::vector<api::Service>& existing, bool prune) {
  StackServicePlan plan;
  ProblemList problems;
  std::map<std::string, const api::Service*> byName;
  for (const auto& service : existing) {
    byName[service.spec.name] = &service;
  }
  std::set<std::string> desiredNames;
  for (const auto& requested : desired) {
    if (!desiredNames.insert(requested.name).second) {
      problems.add(ErrorKind::InvalidArgument,
                   fmt::format("service {} is given twice: each service of a stack has its own "
                               "name",
                               quote(requested.name)));
      continue;
    }
    // Compared in the form the record holds, so that "web:1" equals the stored
    // "docker.io/library/web:1" and a redeploy of the same file writes nothing.
    auto spec = storedServiceSpec(requested);
    if (!spec) {
      problems.add(spec.error().kind,
                   fmt::format("service {}: {}", requested.name, spec.error().message));
      continue;
    }
    auto found = byName.find(spec->name);
    if (found == byName.end()) {
      plan.toCreate.push_back(std::move(*spec));
      continue;
    }
    const api::Service& current = *found->second;
    if (!inStack(current, stack)) {
      problems.add(ErrorKind::Conflict,
                   fmt::format("service {} already exists (ID {}) and is not part of stack {}: "
                               "remove it (overmesh service rm {}), or deploy under another "
                               "stack name",
                               current.spec.name, shortId(current.id), stack, current.spec.name));
      continue;
    }
    if (current.spec.mode != spec->mode) {
      problems.add(
          ErrorKind::InvalidArgument,
          fmt::format("service {}: deploy.mode {} differs from the service's mode {}: "
                      "the mode cannot change; remove the service first (overmesh "
                      "service rm {}) and deploy again",
                      current.spec.name, quote(spec->mode), current.spec.mode, current.spec.name));
      continue;
    }
    if (encodeJson(current.spec) == encodeJson(*spec)) {
      plan.unchanged.push_back(spec->name);
      continue;
    }
    plan.toUpdate.push_back({current.id, current.updateIndex, std::move(*spec)});
  }
  if (!problems.empty()) {
    return std::unexpected(problems.error());
  }
  if (prune) {
    std::vector<const api::Service*> stale;
    for (const auto& service : existing) {
      if (inStack(service, stack) && !desiredNames.contains(service.spec.name)) {
        stale.push_back(&service);
      }
    }
    std::sort(stale.begin(), stale.end(), [](const api::Service* a, const api::Service* b) {
      return a->spec.name < b->spec.name;
    });
    for (const api::Service* service : stale) {
      plan.toRemove.push_back(service->id);
    }
  }
  return plan;
}

}  // namespace overmesh::manager
