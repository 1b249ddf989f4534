#include "runtime/process_handle.h"

#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdint>

namespace overmesh::runtime {

int openPidfd(pid_t pid) { return static_cast<int>(syscall(SYS_pidfd_open, pid, 0U)); }

int sendSignalThroughPidfd(int pidfd, int signal) {
  return static_cast<int>(syscall(SYS_pidfd_send_signal, pidfd, signal, nullptr, 0U));
}

Result<ProcessHandle> ProcessHandle::open(const ProcessIdentity& process) {
  int fd = openPidfd(process.pid);
  if (fd < 0) {
    if (errno == ESRCH) {
      return errorf(ErrorKind::NotFound, "process {} has exited", process.pid);
    }
    return errorf(ErrorKind::Unavailable, "open process {}: {}", process.pid, errnoText(errno));
  }
  dataplane::kernel::UniqueFd owned(fd);
  // Checked after opening: from here on the descriptor pins this very process.
  if (!isRunning(process)) {
    return errorf(ErrorKind::NotFound, "process {} has exited", process.pid);
  }
  return ProcessHandle(std::move(owned), process.pid);
}

Status ProcessHandle::signal(int signal) const {
  if (sendSignalThroughPidfd(fd_.get(), signal) != 0 && errno != ESRCH) {
    return errorf(ErrorKind::Unavailable, "send signal {} to process {}: {}", signal, pid_,
                  errnoText(errno));
  }
  return {};
}

bool ProcessHandle::waitForExit(std::chrono::milliseconds timeout) const {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd readable{fd_.get(), POLLIN, 0};
    int ready =
        poll(&readable, 1, static_cast<int>(std::clamp<std::int64_t>(left.count(), 0, INT_MAX)));
    if (ready > 0) {
      return true;
    }
    if (ready == 0 || errno != EINTR) {
      return false;
    }
  }
}

bool waitUntilGone(const ProcessIdentity& process, std::chrono::milliseconds timeout) {
  auto handle = ProcessHandle::open(process);
  if (!handle) {
    return handle.error().kind == ErrorKind::NotFound;
  }
  return handle->waitForExit(timeout);
}

}  // namespace overmesh::runtime
