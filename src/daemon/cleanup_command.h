#pragma once

// `overmeshd cleanup`: with the daemon stopped, removes everything overmesh made on this
// host (host_cleanup.h: tasks, their namespaces and links, overlay devices, the gateway
// bridge, our nftables tables) and the runtime files outside the state directory (the
// local API socket, podman's short run directory under /run/overmesh-podman). The state
// directory itself stays: `apt purge` (or the operator) removes it.
//
// Refuses to run while an overmeshd holds the state directory's lock: the daemon would
// put back what is removed, and its tasks are its own to stop (`swarm leave` does it).

#include <chrono>
#include <string>

#include "common/error.h"
#include "daemon/host_cleanup.h"

namespace overmesh::daemon {

struct CleanupCommandOptions {
  std::string stateDir = "/var/lib/overmesh";
  std::string socketPath = "/run/overmesh/overmesh.sock";
  std::string netnsPrefix = "om-";
  std::string shimPath;  // the overmeshd binary
  std::chrono::milliseconds grace = kCleanupStopGrace;
};

// Cleans the host as above. FailedPrecondition when a daemon holds the state directory;
// the report lists what was removed and what could not be (a failed step does not stop
// the others). A state directory that does not exist is fine: the kernel is still
// searched by our names.
Result<HostCleanupReport> runCleanupCommand(const CleanupCommandOptions& options);

// The report as the command prints it: one line per object, then a summary line ("nothing
// of overmesh's was left on this host" when nothing was found).
std::string formatCleanupReport(const HostCleanupReport& report);

}  // namespace overmesh::daemon
