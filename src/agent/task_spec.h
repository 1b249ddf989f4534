#pragma once

// What the runtime is told to run for a task record: its command and environment, and for
// an image task the image and its options (api::ContainerSpec -> the TaskSpec's image
// fields). Pure. The node's side of the spec (netnsPath, hostsFile, resolvConf) is the
// agent's to fill in.

#include "api/types.h"
#include "runtime/runtime.h"

namespace overmesh::agent {

runtime::Mount runtimeMountOf(const api::Mount& mount);

// The task's hostname: container.hostname when the spec sets one (compose `hostname:`),
// else the task's name.
std::string taskHostname(const api::Task& task);

// taskId, hostname (taskHostname), command, env, container labels and every image field.
// The record was validated by the manager; nothing is checked here (the runtime refuses a
// bad spec).
runtime::TaskSpec taskSpecOf(const api::Task& task);

}  // namespace overmesh::agent
