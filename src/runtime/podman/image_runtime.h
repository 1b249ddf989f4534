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
#include <string_view>

#include "runtime/podman/podman_client.h"
#include "runtime/podman/podman_service.h"
#include "runtime/runtime.h"

namespace overmesh::runtime::podman {

class ImageRuntime final : public TaskRuntime {
 public:
  // `service`: the node's podman service (started on first need; must outlive the
  // runtime); `stateDir`: where each task's files go (<stateDir>/<task id>/hosts,
  // resolv.conf); `owner`: the label value that marks this node's containers.
  ImageRuntime(PodmanService& service, std::string stateDir, std::string owner);

  // Creates and starts the container: the image by its pull reference (by digest when
  // pinned), the spec's entrypoint, command, workdir, user, bind mounts and named volumes,
  // read-only root, init (catatonit), stop signal. InvalidArgument for a bad task id,
  // image reference, mount or stop signal; NotFound when the image is not in the store
  // (the agent pulls first); Unavailable when podman fails.
  Result<TaskStatus> start(const TaskSpec& spec) override;
  // Exited tasks carry their exit code and, when the kernel's OOM killer ended them,
  // the message "OOM killed".
  Result<TaskStatus> status(const std::string& taskId) override;
  // The container's stop signal (the spec's, else the image's, else SIGTERM), SIGKILL
  // after `grace` rounded up to whole seconds.
  Status stop(const std::string& taskId, std::chrono::milliseconds grace) override;
  Status remove(const std::string& taskId) override;
  Result<ExecResult> exec(const std::string& taskId, const std::vector<std::string>& argv,
                          std::chrono::milliseconds timeout) override;
  void cancelExecs() override;
  Result<std::string> logs(const std::string& taskId, std::size_t maxBytes) override;
  // Does not start the podman service when its storage does not exist yet (no container
  // can exist): the agent calls list() on every reconcile, image tasks or not.
  Result<std::vector<std::string>> list() override;

 private:
  Result<PodmanClient> client();

  PodmanService& service_;
  std::string stateDir_;
  std::string owner_;
  std::atomic<bool> cancelled_{false};
};

// The number of signal `name` ("SIGTERM", "TERM", "15"); 0 when it names none.
int signalNumberOf(std::string_view name);

// The label key of overmesh's containers.
inline constexpr const char* kTaskLabel = "overmesh.task";

}  // namespace overmesh::runtime::podman
