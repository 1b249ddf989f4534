#pragma once

// What a lab's hosts leave outside the lab's namespaces: image tasks run under conmon,
// which podman starts as a process of its own (a new session, not a child of overmeshd),
// and the containers' overlay mounts live in the hosts' podman storage, inside the lab's
// run directory. `lab down` ends them by what ties them to the lab: their command lines
// name the lab's run directory.

#include <string>
#include <vector>

namespace overmesh::lab {

// Kills (SIGKILL) every conmon or podman process whose command line names a path under
// `directory`, and every descendant of one (the container under a conmon), then detaches
// every mount under `directory`, deepest first. Returns how many processes it killed. Never
// throws; what it cannot read it skips. `directory` must be the lab's own run directory
// (an empty or "/" path does nothing).
int sweepContainersUnder(const std::string& directory);

// Removes the podman run roots that the hosts of the lab in `labDirectory` kept outside
// it (runtime/podman/podman_service.h: podmanRunRoot of <host>/state/podman when that
// path is too long for podman). Returns what could not be removed, as messages.
std::vector<std::string> removeShortRunRoots(const std::string& labDirectory);

}  // namespace overmesh::lab
