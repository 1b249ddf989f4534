#pragma once

// exec(): a command run inside a running task's namespaces, like `docker exec`.

#include <chrono>
#include <string>
#include <vector>

#include "common/error.h"
#include "runtime/runtime.h"
#include "runtime/task_files.h"

namespace overmesh::runtime {

// Runs `argv` (argv[0] looked up in env's PATH) inside the IPC, UTS, network, PID and
// mount namespaces of `process`, in "/", with `env` as its whole environment and stdin
// from /dev/null; captures stdout and stderr (each capped at kExecOutputLimit, the rest is
// dropped). Returns once the command has exited; processes it left in the background keep
// running in the task. At `timeout` its process group is killed and the result has
// timedOut and exit code 124. Fails with FailedPrecondition when `process` no longer runs,
// InvalidArgument when the command cannot be executed (the message names it), Unavailable
// when joining a namespace or a fork fails.
//
// How: a forked supervisor joins the namespaces (setns() into a mount namespace needs a
// single-threaded process, which a forked child is) and forks the command, which is then
// inside the task's PID namespace; the supervisor enforces the timeout and exits with the
// command's status. Only async-signal-safe calls happen between the fork and the exec.
//
// `cancelFd`, when not -1, is watched while the command runs: once it is readable the
// command's process group is killed and the call fails with Unavailable ("was stopped").
// That is how a daemon that stops or leaves the swarm ends execs that have no time limit.
Result<ExecResult> execInNamespaces(const ProcessIdentity& process,
                                    const std::vector<std::string>& argv,
                                    const std::vector<std::string>& env,
                                    std::chrono::milliseconds timeout, int cancelFd = -1);

inline constexpr std::size_t kExecOutputLimit = 16 * 1024 * 1024;

}  // namespace overmesh::runtime
