#pragma once

// A handle on one process that pid reuse cannot confuse: a pidfd (Linux 5.3+), opened
// only after checking that the pid still has the recorded start time. Signals sent and
// waits made through it reach that process or nothing.

#include <chrono>

#include "common/error.h"
#include "dataplane/linux/netns.h"
#include "runtime/task_files.h"

namespace overmesh::runtime {

// pidfd_open(2) and pidfd_send_signal(2) as raw system calls: glibc 2.36 declares them in
// <sys/pidfd.h> without extern "C", so C++ cannot link against those declarations.
// Async-signal-safe. Return -1 with errno set on failure.
int openPidfd(pid_t pid);
int sendSignalThroughPidfd(int pidfd, int signal);

class ProcessHandle {
 public:
  // NotFound when the process has exited (zombies count as exited) or its pid now names
  // another process; Unavailable when pidfd_open fails otherwise.
  static Result<ProcessHandle> open(const ProcessIdentity& process);

  // Sends `signal`. Succeeds when the process has exited meanwhile (ESRCH).
  Status signal(int signal) const;

  // Waits until the process exits (becomes a zombie or is reaped), up to `timeout`.
  // True when it exited.
  bool waitForExit(std::chrono::milliseconds timeout) const;

  pid_t pid() const { return pid_; }

 private:
  ProcessHandle(dataplane::kernel::UniqueFd fd, pid_t pid) : fd_(std::move(fd)), pid_(pid) {}

  dataplane::kernel::UniqueFd fd_;
  pid_t pid_ = 0;
};

// Waits up to `timeout` for `process` to exit; true when it is gone (or was never there).
bool waitUntilGone(const ProcessIdentity& process, std::chrono::milliseconds timeout);

}  // namespace overmesh::runtime
