#pragma once

// A TaskRuntime for unit tests: tasks are entries in a map, "running" until a test says
// they exited. Every call that changes something is recorded in `calls` ("start t1",
// "remove t1"), so a test can assert that an agent started or removed nothing.

#include <chrono>
#include <map>
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

  std::map<std::string, Task> tasks;
  std::vector<std::string> calls;
  // When set, start() fails with it (and records the attempt).
  std::optional<Error> startError;

  // The task's process ended with `exitCode`.
  void exit(const std::string& taskId, int exitCode) {
    auto& status = tasks.at(taskId).status;
    status.state = runtime::TaskState::Exited;
    status.exitCode = exitCode;
  }

  Result<runtime::TaskStatus> start(const runtime::TaskSpec& spec) override {
    calls.push_back("start " + spec.taskId);
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
    auto found = tasks.find(taskId);
    if (found == tasks.end()) {
      return errorf(ErrorKind::NotFound, "no task {}", taskId);
    }
    return found->second.status;
  }
  Status stop(const std::string& taskId, std::chrono::milliseconds) override {
    calls.push_back("stop " + taskId);
    if (!tasks.contains(taskId)) {
      return errorf(ErrorKind::NotFound, "no task {}", taskId);
    }
    exit(taskId, 143);
    return {};
  }
  Status remove(const std::string& taskId) override {
    calls.push_back("remove " + taskId);
    tasks.erase(taskId);
    return {};
  }
  Result<runtime::ExecResult> exec(const std::string& taskId, const std::vector<std::string>& argv,
                                   std::chrono::milliseconds) override {
    if (!tasks.contains(taskId)) {
      return errorf(ErrorKind::NotFound, "no task {}", taskId);
    }
    runtime::ExecResult result;
    for (const auto& arg : argv) {
      result.out += arg + "\n";
    }
    return result;
  }
  void cancelExecs() override { calls.push_back("cancelExecs"); }
  Result<std::string> logs(const std::string& taskId, std::size_t) override {
    if (!tasks.contains(taskId)) {
      return errorf(ErrorKind::NotFound, "no task {}", taskId);
    }
    return std::string("log of " + taskId);
  }
  Result<std::vector<std::string>> list() override {
    std::vector<std::string> ids;
    for (const auto& [id, task] : tasks) {
      ids.push_back(id);
    }
    return ids;
  }

 private:
  pid_t nextPid_ = 1000;
};

}  // namespace overmesh::testing
