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

namespace overmesh::manager {
std::string withServiceSource(const std::map<std::string, std::string>& sources,
                              const std::string& name, const std::string& message) {
  auto source = sources.find(name);
  if (source == sources.end() || source->second.empty()) {
    return message;
  }
  return fmt::format("{}: {}", source->second, message);
}

Result<StackServicePlan> planStackServices(const std::string& stack,
                                           const std::vector<api::ServiceSpec>& desired,
                                           const std::vector<api::Service>& existing, bool prune,
                                           const std::map<std::string, std::string>& sources) {
  StackServicePlan plan;
  ProblemList problems;
  std::map<std::string, const api::Service*> byName;
  for (const auto& service : existing) {
    byName[service.spec.name] = &service;
  }
  std::set<std::string> desiredNames;
  for (const auto& spec : desired) {
    auto problem = [&](ErrorKind kind, const std::string& message) {
      problems.add(kind, withServiceSource(sources, spec.name, message));
    };
    if (!desiredNames.insert(spec.name).second) {
      problem(ErrorKind::InvalidArgument,
              fmt::format("service {} is given twice: each service of a stack has its own name",
                          quote(spec.name)));
      continue;
    }
    auto found = byName.find(spec.name);
    if (found == byName.end()) {
      plan.toCreate.push_back(spec);
      continue;
    }
    const api::Service& current = *found->second;
    if (!api::inStack(current.spec.labels, stack)) {
      problem(ErrorKind::Conflict,
              fmt::format("service {} already exists (ID {}) and is not part of stack {}: "
                          "remove it (overmesh service rm {}), or deploy under another "
                          "stack name",
                          current.spec.name, shortId(current.id), stack, current.spec.name));
      continue;
    }
    if (current.spec.mode != spec.mode) {
      problem(
          ErrorKind::InvalidArgument,
          fmt::format("service {}: deploy.mode {} differs from the service's mode {}: "
                      "the mode cannot change; remove the service first (overmesh "
                      "service rm {}) and deploy again",
                      current.spec.name, quote(spec.mode), current.spec.mode, current.spec.name));
      continue;
    }
    if (encodeJson(current.spec) == encodeJson(spec)) {
      plan.unchanged.push_back(spec.name);
      continue;
    }
    plan.toUpdate.push_back({current.id, current.updateIndex, spec, current.spec});
  }
  if (!problems.empty()) {
    return std::unexpected(problems.error());
  }
  if (prune) {
    std::vector<const api::Service*> stale;
    for (const auto& service : existing) {
      if (api::inStack(service.spec.labels, stack) && !desiredNames.contains(service.spec.name)) {
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
