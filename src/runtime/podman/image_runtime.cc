#include "runtime/podman/image_runtime.h"

#include <signal.h>

#include <cctype>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "common/atomic_file.h"
#include "common/image_reference.h"

namespace overmesh::runtime::podman {
namespace {

// A task's output as exec and logs return it, at most this much per stream.
constexpr std::size_t kMaxExecOutput = 4 << 20;

bool validTaskId(const std::string& id) {
  return !id.empty() && id.size() <= 64 &&
         id.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789") == std::string::npos;
}

bool validVolumeName(const std::string& name) {
  return name.size() <= 255 &&
         (name.empty() || std::isalnum(static_cast<unsigned char>(name[0]))) &&
         name.find_first_not_of(
             "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") ==
             std::string::npos;
}

// The container's mounts and volumes from the task's; InvalidArgument naming a bad one.
Status addMounts(const TaskSpec& spec, ContainerSpec& container) {
  for (const auto& mount : spec.mounts) {
    if (!mount.target.starts_with('/') || mount.target == "/") {
      return errorf(ErrorKind::InvalidArgument,
                    "task {}: mount target \"{}\" is not valid: an absolute path other than /",
                    spec.taskId, mount.target);
    }
    if (mount.type == "bind") {
      if (!mount.source.starts_with('/')) {
        return errorf(ErrorKind::InvalidArgument,
                      "task {}: bind mount source \"{}\" is not valid: an absolute node path",
                      spec.taskId, mount.source);
      }
      container.mounts.push_back({mount.source, mount.target, mount.readOnly});
    } else if (mount.type == "volume") {
      if (!validVolumeName(mount.source)) {
        return errorf(ErrorKind::InvalidArgument,
                      "task {}: volume name \"{}\" is not valid: [A-Za-z0-9][A-Za-z0-9_.-]*",
                      spec.taskId, mount.source);
      }
      container.volumes.push_back({mount.source, mount.target, mount.readOnly});
    } else {
      return errorf(ErrorKind::InvalidArgument,
                    "task {}: mount type \"{}\" is not valid: bind or volume", spec.taskId,
                    mount.type);
    }
  }
  return {};
}

}  // namespace

int signalNumberOf(std::string_view name) {
  if (!name.empty() && name.find_first_not_of("0123456789") == std::string_view::npos) {
    int number = 0;
    for (char digit : name.substr(0, 3)) {
      number = number * 10 + (digit - '0');
    }
    return name.size() <= 2 && number > 0 && number < SIGRTMIN ? number : 0;
  }
  if (name.starts_with("SIG")) {
    name.remove_prefix(3);
  }
  for (int number = 1; number < SIGRTMIN; ++number) {
    const char* abbreviation = ::sigabbrev_np(number);
    if (abbreviation != nullptr && name == abbreviation) {
      return number;
    }
  }
  return 0;
}

ImageRuntime::ImageRuntime(PodmanService& service, std::string stateDir, std::string owner)
    : service_(service), stateDir_(std::move(stateDir)), owner_(std::move(owner)) {}

Result<PodmanClient> ImageRuntime::client() {
  if (auto running = service_.ensureRunning(); !running) {
    return std::unexpected(running.error());
  }
  return PodmanClient::connect(service_.socketPath());
}

Result<TaskStatus> ImageRuntime::start(const TaskSpec& spec) {
  if (!validTaskId(spec.taskId)) {
    return errorf(ErrorKind::InvalidArgument, "task id \"{}\" is not valid: 1-64 of [a-z0-9]",
                  spec.taskId);
  }
  if (spec.image.empty()) {
    return errorf(ErrorKind::InvalidArgument, "task {}: no image to run", spec.taskId);
  }
  auto image = parseImageReference(spec.image);
  if (!image) {
    return std::unexpected(image.error().withContext("task " + spec.taskId));
  }
  ContainerSpec container;
  if (auto mounted = addMounts(spec, container); !mounted) {
    return std::unexpected(mounted.error());
  }
  if (!spec.stopSignal.empty()) {
    container.stopSignal = signalNumberOf(spec.stopSignal);
    if (container.stopSignal == 0) {
      return errorf(ErrorKind::InvalidArgument,
                    "task {}: stop signal \"{}\" is not valid: a signal name such as SIGTERM, "
                    "SIGINT or SIGQUIT",
                    spec.taskId, spec.stopSignal);
    }
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
  container.name = spec.taskId;
  container.image = image->pullReference();
  container.hostname = spec.hostname;
  container.command = spec.command;
  container.entrypoint = spec.entrypoint;
  container.env = spec.env;
  container.workdir = spec.workdir;
  container.user = spec.user;
  container.netnsPath = spec.netnsPath;
  container.limits = *limits;
  container.readOnly = spec.readOnly;
  container.init = spec.init;
  container.mounts.insert(
      container.mounts.begin(),
      {{dir + "/hosts", "/etc/hosts", true}, {dir + "/resolv.conf", "/etc/resolv.conf", true}});
  container.labels = spec.labels;
  // Ours wins: list() and cleanup find this node's containers by it.
  container.labels[kTaskLabel] = owner_;
  auto podman = client();
  if (!podman) {
    return std::unexpected(podman.error());
  }
  if (auto created = podman->create(container); !created) {
    std::filesystem::remove_all(dir, error);
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
  if (!service_.storageExists()) {
    // podman never ran on this node: no container exists, and asking must not start it
    // (the router asks here about process tasks it has not seen yet).
    return errorf(ErrorKind::NotFound, "task {} has no container on this node", taskId);
  }
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
  const std::string& phase = state->status;
  // Before start: "configured", "initialized", "created" (no pid yet). A container left so
  // (overmeshd stopped between create and start) will never run: it counts as ended, and
  // the agent reports it and removes it. Anything else but exited/stopped is alive
  // ("running", "paused", "stopping", or a state this podman does not name).
  bool neverStarted = (phase == "created" || phase == "configured" || phase == "initialized") &&
                      state->pid == 0;
  if (neverStarted) {
    status.state = TaskState::Exited;
    status.exitCode = -1;
    status.message = "the container was created but never started";
  } else if (phase != "exited" && phase != "stopped") {
    status.state = TaskState::Running;
  } else {
    status.state = TaskState::Exited;
    status.exitCode = state->exitCode;
    if (state->oomKilled) {
      status.message = "OOM killed";
    } else if (!state->error.empty()) {
      status.message = state->error;
    }
  }
  return status;
}

Status ImageRuntime::stop(const std::string& taskId, std::chrono::milliseconds grace) {
  if (!service_.storageExists()) {
    return errorf(ErrorKind::NotFound, "task {} has no container on this node", taskId);
  }
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
  if (!service_.storageExists()) {
    return {};  // podman never ran here: nothing of the task's to remove
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
  if (!service_.storageExists()) {
    return std::vector<std::string>{};
  }
  auto podman = client();
  if (!podman) {
    return std::unexpected(podman.error());
  }
  return podman->listByLabel(kTaskLabel, owner_);
}

}  // namespace overmesh::runtime::podman
