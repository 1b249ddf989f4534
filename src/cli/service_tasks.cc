#include "cli/service_tasks.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <tuple>

#include "common/ids.h"

namespace overmesh::cli {

bool newerTask(const api::Task& a, const api::Task& b) {
  // updatedAtMs alone misleads: an old task's late "shutdown" report (its host came back)
  // would make it look newer than its replacement. The task that should run is current;
  // creation time orders the rest, whatever was reported about them later.
  const bool aRuns = a.desiredState == "running";
  const bool bRuns = b.desiredState == "running";
  return std::tie(aRuns, a.createdAt, a.updatedAtMs, a.id) >
         std::tie(bRuns, b.createdAt, b.updatedAtMs, b.id);
}

bool taskEnded(const api::Task& task) {
  return task.state == "failed" || task.state == "rejected" || task.state == "exited";
}

bool taskRunsHealthy(const api::Task& task) {
  return task.state == "running" && (!task.healthCheck || task.health == "healthy");
}

std::string slotKey(const api::Service& service, const api::Task& task) {
  return service.spec.mode == "global" ? task.nodeId : std::to_string(task.slot);
}

std::vector<api::Task> tasksOfService(const api::Service& service,
                                      const std::vector<api::Task>& tasks) {
  std::vector<api::Task> own;
  for (const auto& task : tasks) {
    if (task.serviceId == service.id) {
      own.push_back(task);
    }
  }
  bool global = service.spec.mode == "global";
  std::sort(own.begin(), own.end(), [global](const api::Task& a, const api::Task& b) {
    if (global) {
      if (std::tie(a.nodeName, a.nodeId) != std::tie(b.nodeName, b.nodeId)) {
        return std::tie(a.nodeName, a.nodeId) < std::tie(b.nodeName, b.nodeId);
      }
    } else if (a.slot != b.slot) {
      return a.slot < b.slot;
    }
    return newerTask(a, b);
  });
  return own;
}

std::string taskDisplayName(const api::Service& service, const api::Task& task, bool full) {
  if (full && !task.name.empty()) {
    return task.name;
  }
  if (service.spec.mode == "global") {
    return fmt::format("{}.{}", service.spec.name, shortId(task.nodeId));
  }
  return fmt::format("{}.{}", service.spec.name, task.slot);
}

std::string capitalised(std::string text) {
  if (!text.empty()) {
    text[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(text[0])));
  }
  return text;
}

}  // namespace overmesh::cli
