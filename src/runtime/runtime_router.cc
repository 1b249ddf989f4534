#include "runtime/runtime_router.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace overmesh::runtime {

RuntimeRouter::RuntimeRouter(TaskRuntime& processes, TaskRuntime& images)
    : processes_(processes), images_(images) {}

TaskRuntime* RuntimeRouter::knownOwner(const std::string& taskId) {
  std::lock_guard lock(mutex_);
  auto found = owners_.find(taskId);
  return found == owners_.end() ? nullptr : &runtimeOf(found->second);
}

void RuntimeRouter::remember(const std::string& taskId, Owner owner) {
  std::lock_guard lock(mutex_);
  owners_[taskId] = owner;
}

template <typename Call>
auto RuntimeRouter::route(const std::string& taskId, Call call)
    -> decltype(call(std::declval<TaskRuntime&>())) {
  if (TaskRuntime* owner = knownOwner(taskId)) {
    return call(*owner);
  }
  auto result = call(processes_);
  if (result || result.error().kind != ErrorKind::NotFound) {
    if (result) {
      remember(taskId, Owner::Processes);
    }
    return result;
  }
  auto fromImages = call(images_);
  if (fromImages) {
    remember(taskId, Owner::Images);
  }
  return fromImages;
}

Result<TaskStatus> RuntimeRouter::start(const TaskSpec& spec) {
  Owner owner = spec.image.empty() ? Owner::Processes : Owner::Images;
  auto started = runtimeOf(owner).start(spec);
  if (started) {
    remember(spec.taskId, owner);
  }
  return started;
}

Result<TaskStatus> RuntimeRouter::status(const std::string& taskId) {
  return route(taskId, [&](TaskRuntime& runtime) { return runtime.status(taskId); });
}

Status RuntimeRouter::stop(const std::string& taskId, std::chrono::milliseconds grace) {
  return route(taskId, [&](TaskRuntime& runtime) { return runtime.stop(taskId, grace); });
}

Status RuntimeRouter::remove(const std::string& taskId) {
  TaskRuntime* owner = knownOwner(taskId);
  Status removed;
  if (owner != nullptr) {
    removed = owner->remove(taskId);
  } else {
    // Each succeeds on a task it does not have; the first failure is the answer.
    removed = processes_.remove(taskId);
    if (auto fromImages = images_.remove(taskId); !fromImages && removed) {
      removed = fromImages;
    }
  }
  if (removed) {
    std::lock_guard lock(mutex_);
    owners_.erase(taskId);
  }
  return removed;
}

Result<ExecResult> RuntimeRouter::exec(const std::string& taskId,
                                       const std::vector<std::string>& argv,
                                       std::chrono::milliseconds timeout) {
  return route(taskId, [&](TaskRuntime& runtime) { return runtime.exec(taskId, argv, timeout); });
}

void RuntimeRouter::cancelExecs() {
  processes_.cancelExecs();
  images_.cancelExecs();
}

Result<std::string> RuntimeRouter::logs(const std::string& taskId, std::size_t maxBytes) {
  return route(taskId, [&](TaskRuntime& runtime) { return runtime.logs(taskId, maxBytes); });
}

Result<std::vector<std::string>> RuntimeRouter::list() {
  auto fromProcesses = processes_.list();
  auto fromImages = images_.list();
  if (!fromProcesses && !fromImages) {
    return std::unexpected(fromProcesses.error());
  }
  if (!fromImages) {
    // The agent must still see its process tasks when podman is broken; image tasks it
    // cannot see it will not adopt, and their status() calls say why.
    spdlog::warn("image tasks: {}", fromImages.error().message);
  }
  if (!fromProcesses) {
    spdlog::warn("process tasks: {}", fromProcesses.error().message);
  }
  std::vector<std::string> all;
  {
    std::lock_guard lock(mutex_);
    if (fromProcesses) {
      for (const auto& id : *fromProcesses) {
        owners_[id] = Owner::Processes;
        all.push_back(id);
      }
    }
    if (fromImages) {
      for (const auto& id : *fromImages) {
        owners_[id] = Owner::Images;
        all.push_back(id);
      }
    }
  }
  std::sort(all.begin(), all.end());
  all.erase(std::unique(all.begin(), all.end()), all.end());
  return all;
}

}  // namespace overmesh::runtime
