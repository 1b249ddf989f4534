#pragma once

// The default task runtime: the task's command runs on the host's filesystem, in fresh
// UTS, mount, IPC and PID namespaces and in the network namespace the agent prepared.
// Each task has a shim process as its parent (shim.h), so tasks outlive the daemon; all
// state lives in <stateDir>/<taskId>/ (task_files.h), so a new ProcessRuntime on the same
// stateDir (after a daemon restart) lists, inspects, stops and removes the tasks an
// earlier one started: adoption needs no call of its own.
//
// Thread safety: every method may be called from any thread. The only shared state is
// the set of shims this object forked (guarded by mutex_); operations on one task are
// expected to be serialised by the caller (the agent does one thing per task at a time).

#include <sys/types.h>

#include <chrono>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "dataplane/linux/netns.h"
#include "runtime/runtime.h"
#include "runtime/task_files.h"

namespace overmesh::runtime {

class ProcessRuntime final : public TaskRuntime {
 public:
  // stateDir: where each task gets a directory (created on the first start()).
  // shimPath: the overmeshd binary; the shim runs as `shimPath shim --task-dir DIR ...`.
  ProcessRuntime(std::string stateDir, std::string shimPath);
  // Reaps the shims that have exited; running tasks and their shims stay.
  ~ProcessRuntime() override;
  ProcessRuntime(const ProcessRuntime&) = delete;
  ProcessRuntime& operator=(const ProcessRuntime&) = delete;

  // How long start() waits for the shim to report that the task runs (or failed).
  static constexpr std::chrono::seconds kStartTimeout{10};

  // See TaskRuntime. Only in this implementation: SIGTERM reaches the task (PID 1 of its
  // PID namespace) only if the command handles it, as with `docker run` without --init;
  // a command that does not is killed when the grace ends.
  Result<TaskStatus> start(const TaskSpec& spec) override;
  Result<TaskStatus> status(const std::string& taskId) override;
  Status stop(const std::string& taskId, std::chrono::milliseconds grace) override;
  // remove() kills without a grace period: call stop() first for a clean shutdown.
  Status remove(const std::string& taskId) override;
  Result<ExecResult> exec(const std::string& taskId, const std::vector<std::string>& argv,
                          std::chrono::milliseconds timeout) override;
  void cancelExecs() override;
  Result<std::string> logs(const std::string& taskId, std::size_t maxBytes) override;
  Result<std::vector<std::string>> list() override;

  const std::string& stateDir() const { return stateDir_; }

 private:
  TaskPaths pathsOf(const std::string& taskId) const;
  // The paths of a task that exists: InvalidArgument for a malformed id, NotFound when
  // there is no such task.
  Result<TaskPaths> existingTask(const std::string& taskId) const;
  // The status from the task directory; waits (bounded) for a live shim to record an exit.
  Result<TaskStatus> readStatus(const TaskPaths& paths) const;
  // Signals the task (SIGTERM, SIGKILL after `grace`) until it has exited.
  Status stopProcess(const TaskPaths& paths, const std::string& taskId,
                     std::chrono::milliseconds grace) const;
  // Forks and execs the shim; `report` receives the read end of its report pipe.
  Result<pid_t> spawnShim(const TaskPaths& paths, dataplane::kernel::UniqueFd& report);
  // Waits for the shim's report line (until EOF or kStartTimeout).
  Result<pid_t> awaitReport(int reportFd, pid_t shim, const TaskPaths& paths);
  // Undoes a failed start: kills what runs, reaps the shim, deletes the directory.
  void abandonStart(const TaskPaths& paths, pid_t shim);
  // Reaps the shims of ours that have exited (so they do not linger as zombies).
  void reapShims();

  std::string stateDir_;
  std::string shimPath_;
  std::mutex mutex_;
  std::set<pid_t> shims_;  // guarded by mutex_: forked by us, not yet reaped
  // A pipe that becomes readable, for good, once cancelExecs() is called: every exec
  // watches the read end. Invalid when the pipe could not be made (execs then cannot be
  // cancelled; the constructor logs it).
  dataplane::kernel::UniqueFd cancelRead_;
  dataplane::kernel::UniqueFd cancelWrite_;
  std::once_flag cancelled_;
};

}  // namespace overmesh::runtime
