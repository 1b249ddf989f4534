#include "runtime/podman/image_runtime.h"

#include <signal.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <thread>

#include "common/atomic_file.h"

namespace overmesh::runtime::podman {
namespace {

// A task's output as exec and logs return it, at most this much per stream.
constexpr std::size_t kMaxExecOutput = 4 << 20;

bool validTaskId(const std::string& id) {
  return !id.empty() && id.size() <= 64 &&
         id.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789") == std::string::npos;
}

}  // namespace

ImageRuntime::ImageRuntime(std::string socketPath, std::string stateDir, std::string owner)
    : socketPath_(std::move(socketPath)),
      stateDir_(std::move(stateDir)),
      owner_(std::move(owner)) {}

Result<PodmanClient> ImageRuntime::client() { return PodmanClient::connect(socketPath_); }

Result<TaskStatus> ImageRuntime::start(const TaskSpec& spec) {
  if (!validTaskId(spec.taskId)) {
    return errorf(ErrorKind::InvalidArgument, "task id \"{}\" is not valid: 1-64 of [a-z0-9]",
                  spec.taskId);
  }
  if (spec.image.empty()) {
    return errorf(ErrorKind::InvalidArgument, "task {}: no image to run", spec.taskId);
  }
  auto limits = containerLimitsOfThisProcess();
  if (!limits) {
    return std::unexpected(limits.error());
  }
  std::string dir = stateDir_ + "/" + spec.taskId;
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) {
    return errorf(ErrorKind::Unavailable, "task {}: create {}: {}", spec.taskId, dir,
                  error.message());
  }
  for (const auto& [name, content] :
       {std::pair{"hosts", spec.hostsFile}, std::pair{"resolv.conf", spec.resolvConf}}) {
    if (auto written = writeFileAtomically(dir + "/" + name, content); !written) {
      return std::unexpected(written.error().withContext("task " + spec.taskId));
    }
  }
  ContainerSpec container;
  container.name = spec.taskId;
  container.image = spec.image;
  container.hostname = spec.hostname;
  container.command = spec.command;
  container.env = spec.env;
  container.netnsPath = spec.netnsPath;
  container.limits = *limits;
  container.mounts = {{dir + "/hosts", "/etc/hosts", true},
                      {dir + "/resolv.conf", "/etc/resolv.conf", true}};
  container.labels = {{kTaskLabel, owner_}};
  auto podman = client();
  if (!podman) {
    return std::unexpected(podman.error());
  }
  if (auto created = podman->create(container); !created) {
    return std::unexpected(created.error().withContext("task " + spec.taskId));
  }
  if (auto started = podman->start(spec.taskId); !started) {
    podman->remove(spec.taskId);  // a failed start leaves nothing behind
    std::filesystem::remove_all(dir, error);
    return std::unexpected(started.error().withContext("task " + spec.taskId));
  }
  return status(spec.taskId);
}

Result<TaskStatus> ImageRuntime::status(const std::string& taskId) {
  auto podman = client();
  if (!podman) {
    return std::unexpected(podman.error());
  }
  auto state = podman->inspect(taskId);
  if (!state) {
    return std::unexpected(state.error());
  }
  TaskStatus status;
  status.pid = state->pid;
  if (state->status == "running" || state->status == "created" || state->status == "paused") {
    status.state = TaskState::Running;
  } else {
    status.state = TaskState::Exited;
    status.exitCode = state->exitCode;
  }
  return status;
}

Status ImageRuntime::stop(const std::string& taskId, std::chrono::milliseconds grace) {
  auto podman = client();
  if (!podman) {
    return std::unexpected(podman.error());
  }
  auto seconds = std::chrono::seconds(static_cast<long>(std::ceil(grace.count() / 1000.0)));
  return podman->stop(taskId, seconds);
}

Status ImageRuntime::remove(const std::string& taskId) {
  if (!validTaskId(taskId)) {
    return errorf(ErrorKind::InvalidArgument, "task id \"{}\" is not valid", taskId);
  }
  auto podman = client();
  if (!podman) {
    return std::unexpected(podman.error());
  }
  if (auto removed = podman->remove(taskId); !removed) {
    return removed;
  }
  std::error_code error;
  std::filesystem::remove_all(stateDir_ + "/" + taskId, error);
  return {};
}

Result<ExecResult> ImageRuntime::exec(const std::string& taskId,
                                      const std::vector<std::string>& argv,
                                      std::chrono::milliseconds timeout) {
  if (cancelled_) {
    return errorf(ErrorKind::Unavailable, "exec in task {}: the node is stopping", taskId);
  }
  auto podman = client();
  if (!podman) {
    return std::unexpected(podman.error());
  }
  podman->setCancelFlag(&cancelled_);
  std::string execId;
  auto ran = podman->exec(taskId, argv, timeout, kMaxExecOutput, &execId);
  if (!ran) {
    // At the timeout (or a cancel) the command still runs in the container: kill it.
    if (!execId.empty()) {
      if (auto killer = client()) {
        if (auto pid = killer->execPid(execId); pid && *pid > 0) {
          ::kill(*pid, SIGKILL);
        }
      }
    }
    if (!cancelled_ && timeout.count() > 0 &&
        ran.error().message.find("no answer") != std::string::npos) {
      ExecResult result;
      result.exitCode = 124;
      result.timedOut = true;
      return result;
    }
    return std::unexpected(ran.error());
  }
  return ExecResult{ran->exitCode, ran->output.out, ran->output.err, false};
}

void ImageRuntime::cancelExecs() { cancelled_ = true; }

Result<std::string> ImageRuntime::logs(const std::string& taskId, std::size_t maxBytes) {
  auto podman = client();
  if (!podman) {
    return std::unexpected(podman.error());
  }
  // Read whole (bounded), keep the end: the newest output is what a reader wants.
  auto output = podman->logs(taskId, kMaxExecOutput);
  if (!output) {
    return std::unexpected(output.error());
  }
  std::string& both = output->both;
  return both.size() > maxBytes ? both.substr(both.size() - maxBytes) : both;
}

Result<std::vector<std::string>> ImageRuntime::list() {
  auto podman = client();
  if (!podman) {
    return std::unexpected(podman.error());
  }
  return podman->listByLabel(kTaskLabel, owner_);
}

}  // namespace overmesh::runtime::podman
