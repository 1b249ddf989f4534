#include "agent/task_spec.h"

namespace overmesh::agent {

runtime::Mount runtimeMountOf(const api::Mount& mount) {
  runtime::Mount result;
  result.type = mount.type;
  result.source = mount.source;
  result.target = mount.target;
  result.readOnly = mount.readOnly;
  return result;
}

std::string taskHostname(const api::Task& task) {
  return task.container.hostname.empty() ? task.name : task.container.hostname;
}

runtime::TaskSpec taskSpecOf(const api::Task& task) {
  runtime::TaskSpec spec;
  spec.taskId = task.id;
  spec.hostname = taskHostname(task);
  spec.labels = task.container.labels;
  spec.command = task.command;
  spec.env = task.env;
  const api::ContainerSpec& container = task.container;
  spec.image = container.image;
  spec.entrypoint = container.entrypoint;
  spec.workdir = container.workdir;
  spec.user = container.user;
  for (const auto& mount : container.mounts) {
    spec.mounts.push_back(runtimeMountOf(mount));
  }
  spec.readOnly = container.readOnly;
  spec.init = container.init;
  spec.stopSignal = container.stopSignal;
  return spec;
}

}  // namespace overmesh::agent
