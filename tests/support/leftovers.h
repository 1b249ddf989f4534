#pragma once

// The last line of a lab test's cleanup: processes and mounts a lab may leave behind that
// `lab down` does not know of. Image tasks run under conmon, which podman starts outside
// the lab's namespaces and marks with nothing of the lab but the paths of the node's
// storage (inside the lab's run directory); their overlay mounts live there too. Removing
// that directory while they remain fails, and would leave containers running.

#include <string>

namespace overmesh::testing {

// Kills (SIGKILL) every process whose command line names `directory`, and every
// descendant of one (the containers under a conmon), then detaches every mount under
// `directory`, deepest first. `directory` must be a directory this test made (a unique
// temporary path): anything naming it is this test's. Returns how many processes it
// killed. Never throws; what it cannot read it skips.
int sweepLeftovers(const std::string& directory);

}  // namespace overmesh::testing
