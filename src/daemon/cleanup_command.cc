#include "daemon/cleanup_command.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <memory>

#include "daemon/node_state.h"
#include "dataplane/linux/netns.h"
#include "runtime/podman/podman_service.h"

namespace overmesh::daemon {
namespace {

// Removes `path` when it is a unix socket (nothing listens: the daemon is stopped).
void removeSocketFile(const std::string& path, HostCleanupReport& report) {
  struct stat info {};
  if (path.empty() || ::lstat(path.c_str(), &info) != 0 || !S_ISSOCK(info.st_mode)) {
    return;
  }
  if (::unlink(path.c_str()) == 0) {
    report.removed.push_back(fmt::format("socket {}", path));
  } else if (errno != ENOENT) {
    report.failed.push_back(fmt::format("socket {}: {}", path, errnoText(errno)));
  }
}

// podman's run directory outside the state directory (podman_service.h), and its parent
// once empty.
void removePodmanRunRoot(const std::string& podmanDir, HostCleanupReport& report) {
  std::string runRoot = runtime::podman::podmanRunRoot(podmanDir);
  std::string parent = runtime::podman::kShortRunRootParent;
  if (!runRoot.starts_with(parent + "/")) {
    return;  // under the state directory: it stays with it
  }
  std::error_code error;
  if (!std::filesystem::exists(runRoot, error)) {
    return;
  }
  std::filesystem::remove_all(runRoot, error);
  if (error) {
    report.failed.push_back(fmt::format("directory {}: {}", runRoot, error.message()));
    return;
  }
  report.removed.push_back(fmt::format("directory {}", runRoot));
  if (std::filesystem::is_empty(parent, error) && !error) {
    std::filesystem::remove(parent, error);
  }
}

}  // namespace

Result<HostCleanupReport> runCleanupCommand(const CleanupCommandOptions& options) {
  NodeCleanupOptions node;
  node.stateDir = options.stateDir;
  node.shimPath = options.shimPath;
  node.names.netnsPrefix = options.netnsPrefix;
  node.grace = options.grace;
  dataplane::kernel::UniqueFd lock;
  std::error_code error;
  bool haveState = std::filesystem::is_directory(options.stateDir, error);
  if (haveState) {
    // The daemon's own lock (Daemon::start): held means an overmeshd runs on this state.
    std::string lockPath = options.stateDir + "/lock";
    lock =
        dataplane::kernel::UniqueFd(::open(lockPath.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    if (!lock.valid()) {
      return errorf(ErrorKind::Unavailable, "open {}: {}", lockPath, errnoText(errno));
    }
    if (::flock(lock.get(), LOCK_EX | LOCK_NB) != 0) {
      return errorf(ErrorKind::FailedPrecondition,
                    "an overmeshd is running on --state-dir {}; stop it first (`systemctl stop "
                    "overmeshd`), or use `overmesh swarm leave`, which removes the same objects",
                    options.stateDir);
    }
    auto state = loadNodeState(options.stateDir);
    if (state && *state) {
      node.nodeId = (*state)->nodeId;
    }
  }
  std::unique_ptr<runtime::podman::PodmanService> podman;
  std::string podmanDir = options.stateDir + "/podman";
  if (haveState && std::filesystem::is_directory(podmanDir, error)) {
    podman = std::make_unique<runtime::podman::PodmanService>(
        runtime::podman::PodmanServiceOptions{podmanDir, "", std::chrono::milliseconds(15000)});
    podman->endLeftoverService();
  }
  HostCleanupReport report = cleanNodeHost(node, podman.get());
  if (podman) {
    podman->stop();  // the one the image runtime may have started to remove containers
    removePodmanRunRoot(podmanDir, report);
  }
  removeSocketFile(options.socketPath, report);
  return report;
}

std::string formatCleanupReport(const HostCleanupReport& report) {
  if (report.nothingFound()) {
    return "Nothing of overmesh's was left on this host.\n";
  }
  std::string text;
  for (const auto& removed : report.removed) {
    text += fmt::format("removed {}\n", removed);
  }
  for (const auto& failed : report.failed) {
    text += fmt::format("could not remove {}\n", failed);
  }
  text += fmt::format("{} removed, {} could not be removed.\n", report.removed.size(),
                      report.failed.size());
  return text;
}

}  // namespace overmesh::daemon
