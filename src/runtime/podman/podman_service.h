#pragma once

// The node's `podman system service` (issue 10), supervised by overmeshd: one per node,
// with its storage, run and tmp directories and its socket under <node state>/podman, so
// that several lab hosts on one machine keep separate image stores, and its
// registries.conf there too (CONTAINERS_REGISTRIES_CONF). It runs in the daemon's own
// network namespace as the daemon's child, in a session of its own so that a signal to
// the daemon's terminal does not reach it.
//
// Lazy: nothing starts it until ensureRunning() (an image task or an image command);
// a node that never runs an image never runs podman. A service that exited is started
// again on the next ensureRunning(), no sooner than a backoff after the last failure
// (1 s doubling to 30 s). Its containers do not depend on it: each has its own conmon.
//
// Thread-safe: mutex_ guards the process and the backoff; ensureRunning() holds it while
// it waits for the socket (at most the start timeout), so concurrent callers wait for one
// start instead of racing.

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>
#include <vector>

#include "common/error.h"

namespace overmesh::runtime::podman {

// Podman refuses a run root (--runroot: its locks, pid files and container state, lost
// at reboot) longer than 50 characters. <dir>/run is used when it fits; a longer one
// (a lab host's state directory is deep) is replaced by /run/overmesh-podman/<16 hex of
// SHA-256(dir)>, one per node directory. `lab down` removes those (they are outside the
// lab's run directory); containers need theirs as long as they run.
inline constexpr std::size_t kMaxPodmanRunRoot = 50;
inline constexpr const char* kShortRunRootParent = "/run/overmesh-podman";
std::string podmanRunRoot(const std::string& dir);

struct PodmanServiceOptions {
  std::string dir;           // <node state dir>/podman; created when needed
  std::string podmanBinary;  // "" = `podman` found in PATH
  std::chrono::milliseconds startTimeout{15000};
};

class PodmanService {
 public:
  // Remembers the calling thread's network namespace: the service always starts there,
  // whichever thread needs it (an agent thread may be inside a sandbox at that moment).
  explicit PodmanService(PodmanServiceOptions options);
  // Stops the service (stop()).
  ~PodmanService();
  PodmanService(const PodmanService&) = delete;
  PodmanService& operator=(const PodmanService&) = delete;

  // <dir>/podman.sock: where PodmanClient connects.
  std::string socketPath() const;
  // Whether the storage directory exists: when it does not, no image and no container
  // can exist yet, and a caller that only looks need not start the service.
  bool storageExists() const;

  // Starts the service when it does not run and waits until GET /_ping answers. Fails
  // with Unavailable: podman not installed (naming the packages to install), the service
  // exiting or not answering within the start timeout (with the end of its log), or a
  // start attempted again too soon after a failure (saying when the next try is).
  Status ensureRunning();

  // Writes <dir>/registries.conf (atomically) with `content`. When it changed and the
  // service runs, restarts it so that it reads the file (containers keep running: their
  // conmons are not the service's). Fails with Unavailable when the file cannot be
  // written or the restart fails.
  Status configure(const std::string& content);

  // Ends the service: SIGTERM, then SIGKILL after 5 s. Safe to call when it does not run.
  void stop();

  // Ends a service that an overmeshd killed with -9 left running on this node's socket
  // (named by <dir>/podman.pid, and only if its command line names our socket): for
  // `overmeshd cleanup`. Does nothing when there is none.
  void endLeftoverService();

  // The service's process id; 0 when it does not run. For tests and logs.
  pid_t pid() const;

 private:
  Status startLocked();
  void stopLocked();
  // Ends a service that a previous overmeshd (killed with -9) left running on our socket.
  void endStaleService();
  bool runningLocked();

  PodmanServiceOptions options_;
  int netnsFd_ = -1;  // the creator's network namespace; -1 when it could not be opened
  mutable std::mutex mutex_;
  pid_t pid_ = 0;                                      // guarded by mutex_
  int failures_ = 0;                                   // guarded by mutex_
  std::chrono::steady_clock::time_point nextAttempt_;  // guarded by mutex_
  std::string lastFailure_;                            // guarded by mutex_
  bool checkedStale_ = false;                          // guarded by mutex_
};

// podman with the node's global flags for `dir` (storage, run, tmp and network
// directories, cgroupfs, runc): a podman command on that node's store is this plus a
// subcommand. Pure.
std::vector<std::string> podmanArgv(const std::string& podmanBinary, const std::string& dir);
// The argv of the service for `dir`: podmanArgv() + `system service` on the node's socket.
std::vector<std::string> podmanServiceArgv(const std::string& podmanBinary, const std::string& dir);

}  // namespace overmesh::runtime::podman
