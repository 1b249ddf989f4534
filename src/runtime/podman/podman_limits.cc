#include "runtime/podman/podman_limits.h"

#include <sys/resource.h>

#include <algorithm>
#include <cerrno>

namespace overmesh::runtime::podman {

ContainerLimits containerLimits(std::uint64_t hardNofile, std::uint64_t hardNproc) {
  return ContainerLimits{hardNofile, std::min(hardNproc, kConmonNprocLimit)};
}

Result<ContainerLimits> containerLimitsOfThisProcess() {
  rlimit nofile{};
  rlimit nproc{};
  if (getrlimit(RLIMIT_NOFILE, &nofile) != 0 || getrlimit(RLIMIT_NPROC, &nproc) != 0) {
    return errorf(ErrorKind::Unavailable, "read the daemon's resource limits: {}",
                  errnoText(errno));
  }
  return containerLimits(nofile.rlim_max, nproc.rlim_max);
}

}  // namespace overmesh::runtime::podman
