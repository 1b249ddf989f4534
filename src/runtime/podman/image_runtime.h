#pragma once

// Tasks as containers of OCI images, run by podman (DESIGN.md "Runtime", issue 10): a
// TaskRuntime over the libpod REST API of the node's `podman system service`. The
// container joins the sandbox the agent made and wired (its network namespace, by
// path), with the task's name as hostname, the agent's /etc/hosts and /etc/resolv.conf
// bind-mounted read-only, and the node's container limits (podman_limits.h). conmon
// keeps a container alive while overmeshd restarts, as the shim does for process tasks.
// Containers carry the label overmesh.task=<node's runtime label> so that list() finds
// this node's, and only them, after a restart.
//
// Thread-safe: every call uses a client of its own (one HTTP connection each).

#include <atomic>
#include <string>

#include "runtime/podman/podman_client.h"
#include "runtime/runtime.h"

namespace overmesh::runtime::podman {

class ImageRuntime final : public TaskRuntime {
 public:
  // `socketPath`: the podman service's socket; `stateDir`: where each task's files go
  // (<stateDir>/<task id>/hosts, resolv.conf); `owner`: the label value that marks this
  // node's containers.
  ImageRuntime(std::string socketPath, std::string stateDir, std::string owner);

  Result<TaskStatus> start(const TaskSpec& spec) override;
  Result<TaskStatus> status(const std::string& taskId) override;
  Status stop(const std::string& taskId, std::chrono::milliseconds grace) override;
  Status remove(const std::string& taskId) override;
  Result<ExecResult> exec(const std::string& taskId, const std::vector<std::string>& argv,
                          std::chrono::milliseconds timeout) override;
  void cancelExecs() override;
  Result<std::string> logs(const std::string& taskId, std::size_t maxBytes) override;
  Result<std::vector<std::string>> list() override;

 private:
  Result<PodmanClient> client();

  std::string socketPath_;
  std::string stateDir_;
  std::string owner_;
  std::atomic<bool> cancelled_{false};
};

// The label key of overmesh's containers.
inline constexpr const char* kTaskLabel = "overmesh.task";

}  // namespace overmesh::runtime::podman
