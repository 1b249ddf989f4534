#pragma once

// Removes what this node made on its host: the one module behind `swarm leave` (on the
// daemon, after its roles stopped) and `overmeshd cleanup` (a separate run with the daemon
// stopped, as the package's prerm does). What counts as ours, and the order, are
// dataplane/host_cleanup_plan.h's; this module lists the host, runs the plan and reports.
//
// A failure to remove one object is reported under its name and does not stop the rest.
// Running it again removes what is left and reports nothing when nothing is.
//
// sysctls are left as they are: the daemon turns net.ipv4.ip_forward on (egress NAT, the
// routing mesh) without recording what was there, and turning it off could cut the
// forwarding of other software on the host (Docker, libvirt, a router's own); the other
// sysctls it sets live in task namespaces and go with them.

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "dataplane/host_cleanup_plan.h"
#include "dataplane/host_objects.h"
#include "runtime/podman/podman_service.h"
#include "runtime/runtime.h"

namespace overmesh::daemon {

// A task's time to end after SIGTERM (its stop signal) before SIGKILL.
inline constexpr std::chrono::milliseconds kCleanupStopGrace{2000};
// Tasks stopped at once: a node's many tasks take about one grace per this many.
inline constexpr std::size_t kMaxConcurrentTaskStops = 8;

struct HostCleanupReport {
  std::vector<std::string> removed;  // CleanupStep::describe() of each removed object
  // "link omvx4096: <why>", "list links: <why>": what could not be removed or listed.
  std::vector<std::string> failed;
  bool nothingFound() const { return removed.empty() && failed.empty(); }
};

// Lists tasks (`tasks.list()`), namespaces, links and tables, plans with `names`, and
// removes each object in order: the tasks first, stopped (their stop signal, SIGKILL after
// `grace`) and removed (files, container) up to kMaxConcurrentTaskStops at a time (so
// `tasks` must be thread-safe), then the kernel objects one by one on the calling thread,
// which must be in the node's network namespace.
HostCleanupReport cleanHost(dataplane::HostObjects& kernel, runtime::TaskRuntime& tasks,
                            const dataplane::OwnedNames& names, std::chrono::milliseconds grace);

struct NodeCleanupOptions {
  std::string stateDir;  // the daemon's --state-dir: tasks under tasks/ and containers/
  std::string shimPath;  // the overmeshd binary (the process runtime's shim)
  // The node's ID: its containers carry it as their label. Empty: no node identity is
  // known (no node.json), so containers are not looked for.
  std::string nodeId;
  dataplane::OwnedNames names;
  std::chrono::milliseconds grace = kCleanupStopGrace;
};

// cleanHost() on Linux: LinuxHostObjects, the process runtime on <stateDir>/tasks and,
// with a node ID and `podman` (may be null), the image runtime on <stateDir>/containers.
HostCleanupReport cleanNodeHost(const NodeCleanupOptions& options,
                                runtime::podman::PodmanService* podman);

}  // namespace overmesh::daemon
