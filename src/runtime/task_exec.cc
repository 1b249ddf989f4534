#include "runtime/task_exec.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <climits>
#include <utility>

#include "dataplane/linux/netns.h"
#include "runtime/child_process.h"
#include "runtime/process_handle.h"
#include "runtime/shim_protocol.h"

namespace overmesh::runtime {
namespace {

using dataplane::kernel::UniqueFd;

// How long after the timeout the daemon gives up on a supervisor that has not exited.
constexpr std::chrono::seconds kBackstop{5};

// The supervisor's steps, reported to the parent as ChildFailure::step.
enum class ExecStep : int {
  None = 0,
  JoinIpc,
  JoinUts,
  JoinNetwork,
  JoinPid,
  JoinMount,
  ArrangeDescriptors,
  ChangeDirectory,
  Fork,
  Exec,
  TimedOut,   // not a failure: the command was killed at the deadline
  Cancelled,  // not a failure either: the daemon asked the command to stop (it is stopping)
};

struct NamespaceKind {
  const char* name;  // under /proc/PID/ns/
  int type;
  ExecStep step;
};

// The order nsenter uses; the mount namespace last, as joining it changes what paths mean.
constexpr std::array<NamespaceKind, 5> kNamespaces = {{
    {"ipc", CLONE_NEWIPC, ExecStep::JoinIpc},
    {"uts", CLONE_NEWUTS, ExecStep::JoinUts},
    {"net", CLONE_NEWNET, ExecStep::JoinNetwork},
    {"pid", CLONE_NEWPID, ExecStep::JoinPid},
    {"mnt", CLONE_NEWNS, ExecStep::JoinMount},
}};

// Everything the supervisor needs, prepared before fork().
struct SupervisorPlan {
  std::array<int, kNamespaces.size()> namespaceFds{};
  int devNull = -1;
  int outFd = -1;
  int errFd = -1;
  int statusFd = -1;
  // Read end of a pipe whose write end only the daemon holds: when it is closed (the
  // daemon cancels the exec, or dies) the supervisor kills the command.
  int stopFd = -1;
  timespec deadline{};  // CLOCK_MONOTONIC
  const char* file = nullptr;
  char* const* argv = nullptr;
  char* const* envp = nullptr;
  const char* path = nullptr;
};

// Milliseconds until `deadline` (CLOCK_MONOTONIC), at least 0. Async-signal-safe.
int millisecondsUntil(const timespec& deadline) {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  long long left = (static_cast<long long>(deadline.tv_sec) - now.tv_sec) * 1000 +
                   (deadline.tv_nsec - now.tv_nsec) / 1000000;
  if (left < 0) {
    return 0;
  }
  return left > INT_MAX ? INT_MAX : static_cast<int>(left);
}

enum class WaitOutcome { Exited, DeadlinePassed, Stopped };

// True when `stopFd` is readable or hung up: the daemon closed the pipe's write end.
bool stopRequested(int stopFd) {
  pollfd stop{stopFd, POLLIN, 0};
  return poll(&stop, 1, 0) > 0 && (stop.revents & (POLLIN | POLLHUP | POLLERR)) != 0;
}

// Waits until `child` exits (without reaping it), `deadline` passes, or a stop is asked
// for on `stopFd`. Async-signal-safe.
WaitOutcome waitUntil(pid_t child, const timespec& deadline, int stopFd) {
  int pidfd = openPidfd(child);
  while (true) {
    int left = millisecondsUntil(deadline);
    if (pidfd >= 0) {
      std::array<pollfd, 2> watched{pollfd{pidfd, POLLIN, 0}, pollfd{stopFd, POLLIN, 0}};
      int ready = poll(watched.data(), watched.size(), left);
      if (ready > 0 && (watched[0].revents & POLLIN) != 0) {
        return WaitOutcome::Exited;
      }
      if (ready > 0) {
        return WaitOutcome::Stopped;
      }
      // poll() waits at most INT_MAX ms (about 24.8 days): only a deadline that has
      // really passed ends the wait.
      if (ready == 0 && millisecondsUntil(deadline) == 0) {
        return WaitOutcome::DeadlinePassed;
      }
      if (ready < 0 && errno != EINTR) {
        close(pidfd);
        pidfd = -1;  // fall back to polling below
      }
      continue;
    }
    siginfo_t info{};
    if (waitid(P_PID, static_cast<id_t>(child), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
        info.si_pid == child) {
      return WaitOutcome::Exited;
    }
    if (stopRequested(stopFd)) {
      return WaitOutcome::Stopped;
    }
    if (left == 0) {
      return WaitOutcome::DeadlinePassed;
    }
    timespec pause{0, 10 * 1000 * 1000};
    nanosleep(&pause, nullptr);
  }
}

// The forked supervisor: joins the task's namespaces, forks the command (which lands in
// the task's PID namespace), kills it at the deadline and exits with its status.
[[noreturn]] void runSupervisor(const SupervisorPlan& plan) {
  int statusFd = plan.statusFd;
  auto fail = [&statusFd](ExecStep step, int error) {
    reportChildFailure(statusFd, static_cast<int>(step), error);
    _exit(126);
  };
  resetSignalsForExec();
  for (std::size_t i = 0; i < kNamespaces.size(); ++i) {
    if (setns(plan.namespaceFds[i], kNamespaces[i].type) != 0) {
      fail(kNamespaces[i].step, errno);
    }
  }
  int fds[] = {plan.devNull, plan.outFd, plan.errFd, plan.statusFd, plan.stopFd};
  if (!arrangeDescriptors(fds, 5)) {
    fail(ExecStep::ArrangeDescriptors, errno);
  }
  statusFd = 3;
  constexpr int kStopFd = 4;
  if (chdir("/") != 0) {
    fail(ExecStep::ChangeDirectory, errno);
  }
  pid_t child = fork();
  if (child < 0) {
    fail(ExecStep::Fork, errno);
  }
  if (child == 0) {
    // Its own process group, so that a timeout kills what it started too; and it dies
    // with the supervisor should the daemon kill that.
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    fcntl(3, F_SETFD, FD_CLOEXEC);
    fcntl(kStopFd, F_SETFD, FD_CLOEXEC);
    int error = execSearchingPath(plan.file, plan.argv, plan.envp, plan.path);
    reportChildFailure(3, static_cast<int>(ExecStep::Exec), error);
    _exit(127);
  }
  setpgid(child, child);
  // Only the command holds the output pipes from here on.
  dup2(STDIN_FILENO, STDOUT_FILENO);
  dup2(STDIN_FILENO, STDERR_FILENO);
  WaitOutcome outcome = waitUntil(child, plan.deadline, kStopFd);
  if (outcome != WaitOutcome::Exited) {
    // Unreaped, `child` cannot have been reused: the group and the pid are still its.
    kill(-child, SIGKILL);
    kill(child, SIGKILL);
    ExecStep why =
        outcome == WaitOutcome::Stopped ? ExecStep::Cancelled : ExecStep::TimedOut;
    reportChildFailure(statusFd, static_cast<int>(why), 0);
  }
  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  _exit(WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status));
}

Result<std::pair<UniqueFd, UniqueFd>> makePipe() {
  int ends[2] = {-1, -1};
  if (pipe2(ends, O_CLOEXEC) != 0) {
    return errorf(ErrorKind::Unavailable, "create a pipe: {}", errnoText(errno));
  }
  return std::pair{UniqueFd(ends[0]), UniqueFd(ends[1])};
}

// Reads what `fd` (non-blocking) has into `into`, up to kExecOutputLimit in total. False
// at EOF (or a read error), when the descriptor is of no further use.
bool drain(int fd, std::string& into) {
  char buffer[16384];
  while (true) {
    ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n > 0) {
      std::size_t room = kExecOutputLimit - std::min(into.size(), kExecOutputLimit);
      into.append(buffer, std::min(room, static_cast<std::size_t>(n)));
      continue;
    }
    if (n < 0 && errno == EINTR) {
      continue;
    }
    return n < 0 && errno == EAGAIN;
  }
}

Error describeFailure(const ChildFailure& failure, const std::string& command) {
  auto step = static_cast<ExecStep>(failure.step);
  std::string why = errnoText(failure.error);
  for (const auto& kind : kNamespaces) {
    if (kind.step == step) {
      return Error{ErrorKind::Unavailable,
                   fmt::format("join the task's {} namespace: {}", kind.name, why)};
    }
  }
  switch (step) {
    case ExecStep::Exec:
      return Error{execFailureKind(failure.error),
                   fmt::format("cannot execute \"{}\": {}", command, why)};
    case ExecStep::ArrangeDescriptors:
      return Error{ErrorKind::Unavailable, fmt::format("set up stdin, stdout and stderr: {}", why)};
    case ExecStep::ChangeDirectory:
      return Error{ErrorKind::Unavailable, fmt::format("change to the task's /: {}", why)};
    case ExecStep::Fork:
      return Error{ErrorKind::Unavailable, fmt::format("fork inside the task: {}", why)};
    default:
      return Error{ErrorKind::Internal, fmt::format("exec step {} failed: {}", failure.step, why)};
  }
}

}  // namespace

Result<ExecResult> execInNamespaces(const ProcessIdentity& process,
                                    const std::vector<std::string>& argv,
                                    const std::vector<std::string>& env,
                                    std::chrono::milliseconds timeout, int cancelFd) {
  if (argv.empty() || argv.front().empty()) {
    return makeError(ErrorKind::InvalidArgument, "no command given");
  }
  if (timeout.count() <= 0) {
    return errorf(ErrorKind::InvalidArgument, "the timeout must be positive, not {} ms",
                  timeout.count());
  }
  if (cancelFd >= 0 && stopRequested(cancelFd)) {
    return errorf(ErrorKind::Unavailable,
                  "\"{}\" was stopped before it started: overmeshd on the task's node is "
                  "stopping or leaving the swarm",
                  argv.front());
  }
  std::array<UniqueFd, kNamespaces.size()> namespaceFds;
  for (std::size_t i = 0; i < kNamespaces.size(); ++i) {
    std::string path = fmt::format("/proc/{}/ns/{}", process.pid, kNamespaces[i].name);
    namespaceFds[i] = UniqueFd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!namespaceFds[i].valid()) {
      if (errno == ENOENT || errno == ESRCH) {
        return errorf(ErrorKind::FailedPrecondition, "the task's process {} no longer runs",
                      process.pid);
      }
      return errorf(ErrorKind::Unavailable, "open {}: {}", path, errnoText(errno));
    }
  }
  // Checked after opening: the descriptors are of this very process, not of a reused pid.
  if (!isRunning(process)) {
    return errorf(ErrorKind::FailedPrecondition, "the task's process {} no longer runs",
                  process.pid);
  }

  UniqueFd devNull(open("/dev/null", O_RDWR | O_CLOEXEC));
  if (!devNull.valid()) {
    return errorf(ErrorKind::Unavailable, "open /dev/null: {}", errnoText(errno));
  }
  auto out = makePipe();
  if (!out) {
    return std::unexpected(out.error());
  }
  auto err = makePipe();
  if (!err) {
    return std::unexpected(err.error());
  }
  auto status = makePipe();
  if (!status) {
    return std::unexpected(status.error());
  }
  auto stop = makePipe();
  if (!stop) {
    return std::unexpected(stop.error());
  }
  for (int readEnd : {out->first.get(), err->first.get(), status->first.get()}) {
    fcntl(readEnd, F_SETFL, O_NONBLOCK);
  }

  CStringArray argvStrings(argv);
  CStringArray envStrings(env);
  std::string path = pathVariable(env);
  SupervisorPlan plan;
  for (std::size_t i = 0; i < kNamespaces.size(); ++i) {
    plan.namespaceFds[i] = namespaceFds[i].get();
  }
  plan.devNull = devNull.get();
  plan.outFd = out->second.get();
  plan.errFd = err->second.get();
  plan.statusFd = status->second.get();
  plan.stopFd = stop->first.get();
  clock_gettime(CLOCK_MONOTONIC, &plan.deadline);
  auto wholeSeconds = std::chrono::duration_cast<std::chrono::seconds>(timeout);
  plan.deadline.tv_sec += static_cast<time_t>(wholeSeconds.count());
  plan.deadline.tv_nsec += static_cast<long>((timeout - wholeSeconds).count() * 1000000);
  if (plan.deadline.tv_nsec >= 1000000000) {
    plan.deadline.tv_sec += 1;
    plan.deadline.tv_nsec -= 1000000000;
  }
  plan.file = argv.front().c_str();
  plan.argv = argvStrings.data();
  plan.envp = envStrings.data();
  plan.path = path.c_str();

  pid_t supervisor = fork();
  if (supervisor < 0) {
    return errorf(ErrorKind::Unavailable, "fork: {}", errnoText(errno));
  }
  if (supervisor == 0) {
    runSupervisor(plan);
  }
  out->second.reset();
  err->second.reset();
  status->second.reset();
  stop->first.reset();

  auto reap = [supervisor] {
    int waitStatus = 0;
    while (waitpid(supervisor, &waitStatus, 0) < 0 && errno == EINTR) {
    }
    return waitStatus;
  };
  UniqueFd supervisorFd(openPidfd(supervisor));
  if (!supervisorFd.valid()) {
    int error = errno;
    kill(supervisor, SIGKILL);
    reap();
    return errorf(ErrorKind::Unavailable, "watch the exec supervisor: {}", errnoText(error));
  }

  // The supervisor kills the command at the deadline; this backstop only catches a
  // supervisor that hangs itself.
  ExecResult result;
  auto backstop = std::chrono::steady_clock::now() + timeout + kBackstop;
  bool outOpen = true;
  bool errOpen = true;
  while (true) {
    std::array<pollfd, 4> fds{};
    fds[0] = pollfd{supervisorFd.get(), POLLIN, 0};
    nfds_t count = 1;
    int outIndex = -1;
    int errIndex = -1;
    int cancelIndex = -1;
    if (cancelFd >= 0 && stop->second.valid()) {
      cancelIndex = static_cast<int>(count);
      fds[count++] = pollfd{cancelFd, POLLIN, 0};
    }
    if (outOpen) {
      outIndex = static_cast<int>(count);
      fds[count++] = pollfd{out->first.get(), POLLIN, 0};
    }
    if (errOpen) {
      errIndex = static_cast<int>(count);
      fds[count++] = pollfd{err->first.get(), POLLIN, 0};
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        backstop - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      kill(supervisor, SIGKILL);
      reap();
      return errorf(ErrorKind::Unavailable, "\"{}\" did not end {} s after its timeout",
                    argv.front(), kBackstop.count());
    }
    int ready =
        poll(fds.data(), count, static_cast<int>(std::min<std::int64_t>(left.count(), INT_MAX)));
    if (ready < 0) {
      if (errno == EINTR) {
        continue;
      }
      int error = errno;
      kill(supervisor, SIGKILL);
      reap();
      return errorf(ErrorKind::Unavailable, "poll: {}", errnoText(error));
    }
    if (outIndex >= 0 && fds[static_cast<std::size_t>(outIndex)].revents != 0) {
      outOpen = drain(out->first.get(), result.out);
    }
    if (errIndex >= 0 && fds[static_cast<std::size_t>(errIndex)].revents != 0) {
      errOpen = drain(err->first.get(), result.err);
    }
    if (cancelIndex >= 0 && fds[static_cast<std::size_t>(cancelIndex)].revents != 0) {
      // Closing our end tells the supervisor to kill the command; its exit ends the loop.
      stop->second.reset();
      backstop = std::min(backstop, std::chrono::steady_clock::now() + kBackstop);
    }
    if ((fds[0].revents & POLLIN) != 0) {
      break;
    }
  }
  int waitStatus = reap();
  // What the command wrote before it exited is in the pipes; background processes it
  // left behind may keep them open, so read what is there and stop.
  if (outOpen) {
    drain(out->first.get(), result.out);
  }
  if (errOpen) {
    drain(err->first.get(), result.err);
  }
  ChildFailure failure = readChildFailure(status->first.get());
  if (static_cast<ExecStep>(failure.step) == ExecStep::TimedOut) {
    result.timedOut = true;
    result.exitCode = 124;
    return result;
  }
  if (static_cast<ExecStep>(failure.step) == ExecStep::Cancelled) {
    return errorf(ErrorKind::Unavailable,
                  "\"{}\" was stopped: overmeshd on the task's node is stopping or leaving the "
                  "swarm",
                  argv.front());
  }
  if (failure.step != 0) {
    return std::unexpected(describeFailure(failure, argv.front()));
  }
  result.exitCode = exitRecordFromWaitStatus(waitStatus).exitCode;
  return result;
}

}  // namespace overmesh::runtime
