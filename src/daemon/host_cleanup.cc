#include "daemon/host_cleanup.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <thread>

#include "dataplane/linux/linux_host_objects.h"
#include "runtime/podman/image_runtime.h"
#include "runtime/process_runtime.h"
#include "runtime/runtime_router.h"

namespace overmesh::daemon {
namespace {

// Adds what a listing found, or its failure to the report (the rest goes on without it).
template <typename T>
void collect(Result<std::vector<T>> listed, std::vector<T>& into, std::string_view what,
             HostCleanupReport& report) {
  if (listed) {
    into = std::move(*listed);
  } else {
    report.failed.push_back(fmt::format("list {}: {}", what, listed.error().message));
  }
}

Status removeStep(const dataplane::CleanupStep& step, dataplane::HostObjects& kernel,
                  runtime::TaskRuntime& tasks, std::chrono::milliseconds grace) {
  switch (step.kind) {
    case dataplane::CleanupKind::Task: {
      // A task that is gone already (NotFound) is fine: remove() deletes its files.
      if (auto stopped = tasks.stop(step.name, grace);
          !stopped && stopped.error().kind != ErrorKind::NotFound) {
        return stopped;
      }
      return tasks.remove(step.name);
    }
    case dataplane::CleanupKind::Namespace:
      return kernel.deleteNamespace(step.name);
    case dataplane::CleanupKind::Link:
      return kernel.deleteLink(step.name);
    case dataplane::CleanupKind::Table:
      return kernel.deleteTable({step.family, step.name});
  }
  return {};
}

}  // namespace

HostCleanupReport cleanHost(dataplane::HostObjects& kernel, runtime::TaskRuntime& tasks,
                            const dataplane::OwnedNames& names, std::chrono::milliseconds grace) {
  HostCleanupReport report;
  dataplane::HostInventory inventory;
  collect(tasks.list(), inventory.tasks, "tasks", report);
  collect(kernel.listNamespaces(names.netnsPrefix + "t-"), inventory.namespaces,
          "network namespaces", report);
  collect(kernel.listLinks(), inventory.links, "links", report);
  collect(kernel.listTables(), inventory.tables, "nftables tables", report);
  auto steps = dataplane::planHostCleanup(inventory, names);
  std::vector<Status> results(steps.size());
  // The tasks (the plan's first steps) stop together, up to kMaxConcurrentTaskStops at a
  // time: each may wait its whole grace, and `swarm leave` answers a CLI that waits.
  // The kernel steps after them run in order on this thread.
  std::size_t taskSteps = 0;
  while (taskSteps < steps.size() && steps[taskSteps].kind == dataplane::CleanupKind::Task) {
    ++taskSteps;
  }
  std::atomic<std::size_t> next{0};
  auto stopTasks = [&] {
    for (std::size_t i = next++; i < taskSteps; i = next++) {
      results[i] = removeStep(steps[i], kernel, tasks, grace);
    }
  };
  std::vector<std::thread> workers;
  for (std::size_t w = 1; w < std::min(taskSteps, kMaxConcurrentTaskStops); ++w) {
    workers.emplace_back(stopTasks);
  }
  stopTasks();
  for (auto& worker : workers) {
    worker.join();
  }
  for (std::size_t i = taskSteps; i < steps.size(); ++i) {
    results[i] = removeStep(steps[i], kernel, tasks, grace);
  }
  for (std::size_t i = 0; i < steps.size(); ++i) {
    if (results[i]) {
      spdlog::info("clean-up: removed {}", steps[i].describe());
      report.removed.push_back(steps[i].describe());
    } else {
      spdlog::warn("clean-up: cannot remove {}: {}", steps[i].describe(),
                   results[i].error().message);
      report.failed.push_back(
          fmt::format("{}: {}", steps[i].describe(), results[i].error().message));
    }
  }
  return report;
}

HostCleanupReport cleanNodeHost(const NodeCleanupOptions& options,
                                runtime::podman::PodmanService* podman) {
  dataplane::kernel::LinuxHostObjects kernel;
  runtime::ProcessRuntime processes(options.stateDir + "/tasks", options.shimPath);
  if (podman == nullptr || options.nodeId.empty()) {
    return cleanHost(kernel, processes, options.names, options.grace);
  }
  runtime::podman::ImageRuntime images(*podman, options.stateDir + "/containers", options.nodeId);
  runtime::RuntimeRouter router(processes, images);
  return cleanHost(kernel, router, options.names, options.grace);
}

}  // namespace overmesh::daemon
