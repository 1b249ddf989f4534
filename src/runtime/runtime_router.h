#pragma once

// One TaskRuntime that sends each task to the runtime that runs it (issue 10): tasks with
// an image to ImageRuntime (podman), tasks with only a command to ProcessRuntime. The
// agent sees one runtime; after a daemon restart, list() teaches the router which runtime
// has which task, and a task it has not seen is looked up in the process runtime first,
// then in the image runtime.
//
// Thread-safe (the map of owners is guarded by mutex_; calls into the runtimes are made
// without holding it, as they may take seconds).

#include <map>
#include <mutex>
#include <string>

#include "runtime/runtime.h"

namespace overmesh::runtime {

class RuntimeRouter final : public TaskRuntime {
 public:
  // Both runtimes must outlive the router.
  RuntimeRouter(TaskRuntime& processes, TaskRuntime& images);

  // To `images` when spec.image is set, else to `processes`.
  Result<TaskStatus> start(const TaskSpec& spec) override;
  Result<TaskStatus> status(const std::string& taskId) override;
  Status stop(const std::string& taskId, std::chrono::milliseconds grace) override;
  // Removes the task from the runtime that has it (both when unknown: each succeeds on a
  // task it does not have).
  Status remove(const std::string& taskId) override;
  Result<ExecResult> exec(const std::string& taskId, const std::vector<std::string>& argv,
                          std::chrono::milliseconds timeout) override;
  void cancelExecs() override;
  Result<std::string> logs(const std::string& taskId, std::size_t maxBytes) override;
  // The sorted union of both lists. When one runtime fails (podman not installed) the
  // other's tasks are still listed and the failure is logged, unless both fail.
  Result<std::vector<std::string>> list() override;

 private:
  enum class Owner { Processes, Images };

  // The runtime known to have the task, or nullptr.
  TaskRuntime* knownOwner(const std::string& taskId);
  void remember(const std::string& taskId, Owner owner);
  TaskRuntime& runtimeOf(Owner owner) { return owner == Owner::Images ? images_ : processes_; }

  // Calls `call` on the owner, or on the process runtime, then the image one on NotFound.
  template <typename Call>
  auto route(const std::string& taskId, Call call) -> decltype(call(std::declval<TaskRuntime&>()));

  TaskRuntime& processes_;
  TaskRuntime& images_;
  std::mutex mutex_;
  std::map<std::string, Owner> owners_;  // guarded by mutex_
};

}  // namespace overmesh::runtime
