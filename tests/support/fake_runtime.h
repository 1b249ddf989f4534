#pragma once

// A TaskRuntime for unit tests: tasks are entries in a map, "running" until a test says
// they exited. Every call that changes something is recorded in `calls` ("start t1",
// "stop t1", "remove t1"), so a test can assert that an agent started or removed nothing;
// stop() also records the grace it was given and when, exec() the timeout.
//
// The agent calls it from several threads (reconcile, stop workers, health checks), so
// every method takes its mutex. Tests read the public fields directly only while no agent
// thread can use the runtime (after waitForStops()/checkHealth(), or before the agent
// exists); while one may, they use the locked helpers (waitForCall(), callsSoFar()).
// holdStops()/holdExecs() make stop()/exec() block until released, to test that the
// agent does not wait for them.

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "runtime/runtime.h"

namespace overmesh::testing {

class FakeTaskRuntime final : public runtime::TaskRuntime {
 public:
  struct Task {
    runtime::TaskSpec spec;
    runtime::TaskStatus status;
  };
  struct StopCall {
    std::string taskId;
    std::chrono::milliseconds grace;
    std::chrono::steady_clock::time_point at;
  };
  struct ExecCall {
    std::string taskId;
    std::vector<std::string> argv;
    std::chrono::milliseconds timeout;
  };

  std::map<std::string, Task> tasks;
  std::vector<std::string> calls;
  std::vector<StopCall> stops;
  std::vector<ExecCall> execs;
  // When set, start() fails with it (and records the attempt).
  std::optional<Error> startError;
  // Results exec() returns for a task, in order; when none is left, exec() succeeds and
  // echoes its argv (one argument a line) on stdout.
  std::map<std::string, std::deque<Result<runtime::ExecResult>>> execScript;

  // The task's process ended with `exitCode`.
  void exit(const std::string& taskId, int exitCode) {
    std::lock_guard lock(mutex_);
    exitLocked(taskId, exitCode);
  }
  // Scripts the next exec() result of `taskId`.
  void scriptExec(const std::string& taskId, Result<runtime::ExecResult> result) {
    std::lock_guard lock(mutex_);
    execScript[taskId].push_back(std::move(result));
  }

  void holdStops() { setHold(stopsHeld_, true); }
  void releaseStops() { setHold(stopsHeld_, false); }
  void holdExecs() { setHold(execsHeld_, true); }
  void releaseExecs() { setHold(execsHeld_, false); }

  // Waits until `call` ("stop t1") has been made; false at the timeout.
  bool waitForCall(const std::string& call, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(
        lock, timeout, [&] { return std::find(calls.begin(), calls.end(), call) != calls.end(); });
  }
  // Waits until exec() has been called `count` times in all; false at the timeout.
  bool waitForExecs(std::size_t count, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return execs.size() >= count; });
  }
  std::vector<std::string> callsSoFar() const {
    std::lock_guard lock(mutex_);
    return calls;
  }
  bool has(const std::string& taskId) const {
    std::lock_guard lock(mutex_);
    return tasks.contains(taskId);
  }

  Result<runtime::TaskStatus> start(const runtime::TaskSpec& spec) override {
    std::lock_guard lock(mutex_);
    record("start " + spec.taskId);
    if (startError) {
      return std::unexpected(*startError);
    }
    if (tasks.contains(spec.taskId)) {
      return errorf(ErrorKind::Conflict, "task {} exists", spec.taskId);
    }
    runtime::TaskStatus status;
    status.pid = nextPid_++;
    tasks[spec.taskId] = {spec, status};
    return status;
  }
  Result<runtime::TaskStatus> status(const std::string& taskId) override {
    std::lock_guard lock(mutex_);
    auto found = tasks.find(taskId);
    if (found == tasks.end()) {
      return errorf(ErrorKind::NotFound, "no task {}", taskId);
    }
    return found->second.status;
  }
  Status stop(const std::string& taskId, std::chrono::milliseconds grace) override {
    std::unique_lock lock(mutex_);
    record("stop " + taskId);
    stops.push_back({taskId, grace, std::chrono::steady_clock::now()});
    changed_.wait(lock, [this] { return !stopsHeld_; });
    if (!tasks.contains(taskId)) {
      return errorf(ErrorKind::NotFound, "no task {}", taskId);
    }
    if (tasks.at(taskId).status.state == runtime::TaskState::Running) {
      exitLocked(taskId, 143);
    }
    return {};
  }
  Status remove(const std::string& taskId) override {
    std::lock_guard lock(mutex_);
    record("remove " + taskId);
    tasks.erase(taskId);
    return {};
  }
  Result<runtime::ExecResult> exec(const std::string& taskId, const std::vector<std::string>& argv,
                                   std::chrono::milliseconds timeout) override {
    std::unique_lock lock(mutex_);
    execs.push_back({taskId, argv, timeout});
    changed_.notify_all();
    changed_.wait(lock, [this] { return !execsHeld_; });
    auto task = tasks.find(taskId);
    if (task == tasks.end()) {
      return errorf(ErrorKind::NotFound, "no task {}", taskId);
    }
    if (task->second.status.state != runtime::TaskState::Running) {
      return errorf(ErrorKind::FailedPrecondition, "task {} is not running", taskId);
    }
    if (auto script = execScript.find(taskId);
        script != execScript.end() && !script->second.empty()) {
      auto result = std::move(script->second.front());
      script->second.pop_front();
      return result;
    }
    runtime::ExecResult result;
    for (const auto& arg : argv) {
      result.out += arg + "\n";
    }
    return result;
  }
  void cancelExecs() override {
    std::lock_guard lock(mutex_);
    record("cancelExecs");
  }
  Result<std::string> logs(const std::string& taskId, std::size_t) override {
    std::lock_guard lock(mutex_);
    if (!tasks.contains(taskId)) {
      return errorf(ErrorKind::NotFound, "no task {}", taskId);
    }
    return std::string("log of " + taskId);
  }
  Result<std::vector<std::string>> list() override {
    std::lock_guard lock(mutex_);
    std::vector<std::string> ids;
    for (const auto& [id, task] : tasks) {
      ids.push_back(id);
    }
    return ids;
  }

 private:
  void exitLocked(const std::string& taskId, int exitCode) {
    auto& status = tasks.at(taskId).status;
    status.state = runtime::TaskState::Exited;
    status.exitCode = exitCode;
  }
  void record(std::string call) {
    calls.push_back(std::move(call));
    changed_.notify_all();
  }
  void setHold(bool& held, bool value) {
    {
      std::lock_guard lock(mutex_);
      held = value;
    }
    changed_.notify_all();
  }

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  bool stopsHeld_ = false;  // guarded by mutex_
  bool execsHeld_ = false;  // guarded by mutex_
  pid_t nextPid_ = 1000;    // guarded by mutex_
};

}  // namespace overmesh::testing
