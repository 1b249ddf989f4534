#pragma once

// The resource limits a container may be given on a node whose root lacks
// CAP_SYS_RESOURCE (as on Debian machines run in containers, and on this project's CI):
// runc sets them from inside conmon's process tree, and a process without that
// capability cannot raise a hard limit above its own. Measured with podman 4.3.1:
//   - RLIMIT_NOFILE up to the daemon's own hard limit works (20000 of 20000), one more
//     fails ("error setting rlimit type 7: operation not permitted");
//   - RLIMIT_NPROC fails above 32768 even when the daemon's hard limit is higher: conmon
//     runs with nproc 32768:32768 (set by podman), and the container inherits from it.
// Podman's defaults (nofile 1048576) therefore fail on such a machine, so every container
// is created with limits from this rule. Pure, except containerLimitsOfThisProcess().

#include <cstdint>

#include "common/error.h"

namespace overmesh::runtime::podman {

// What conmon runs with, whatever the daemon's own limit (see above).
inline constexpr std::uint64_t kConmonNprocLimit = 32768;

struct ContainerLimits {
  std::uint64_t nofile = 0;  // soft = hard
  std::uint64_t nproc = 0;   // soft = hard
  bool operator==(const ContainerLimits&) const = default;
};

// The largest limits a container can be given by a daemon whose hard limits are these
// (RLIM_INFINITY allowed).
ContainerLimits containerLimits(std::uint64_t hardNofile, std::uint64_t hardNproc);

// The same for the calling process (getrlimit). Unavailable when getrlimit fails.
Result<ContainerLimits> containerLimitsOfThisProcess();

}  // namespace overmesh::runtime::podman
