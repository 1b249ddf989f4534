#include "runtime/shim.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "common/atomic_file.h"
#include "runtime/child_process.h"
#include "runtime/shim_protocol.h"
#include "runtime/task_files.h"

namespace overmesh::runtime {
namespace {

struct ShimArguments {
  std::string taskDir;
  int reportFd = -1;
};

bool parseArguments(int argc, char** argv, ShimArguments& out) {
  // argv: overmeshd shim --task-dir DIR --report-fd N
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string_view flag = argv[i];
    if (flag == "--task-dir") {
      out.taskDir = argv[i + 1];
    } else if (flag == "--report-fd") {
      char* end = nullptr;
      long fd = std::strtol(argv[i + 1], &end, 10);
      if (end == argv[i + 1] || *end != '\0' || fd < 0 || fd > 1024) {
        return false;
      }
      out.reportFd = static_cast<int>(fd);
    } else {
      return false;
    }
  }
  return argc % 2 == 0 && !out.taskDir.empty() && out.reportFd >= 0;
}

// The setup steps of the task's process, reported to the shim as ChildFailure::step.
enum class TaskStep : int {
  None = 0,
  JoinNetwork,
  UnshareNamespaces,
  MakeMountsSlave,
  SetHostname,
  BindHosts,
  BindHostname,
  BindResolvConf,
  MountProc,
  ArrangeDescriptors,
  Exec,
};

// Everything the task's process needs, prepared before fork().
struct TaskChildPlan {
  int netnsFd = -1;
  int devNull = -1;
  int failureFd = -1;
  const char* hostname = nullptr;
  std::size_t hostnameLength = 0;
  const char* hostsSource = nullptr;
  const char* hostnameSource = nullptr;
  const char* resolvConfSource = nullptr;
  const char* file = nullptr;
  char* const* argv = nullptr;
  char* const* envp = nullptr;
  const char* path = nullptr;
};

// Runs in the forked child, which is PID 1 of the new PID namespace. The shim is
// single-threaded, but this sticks to raw system calls anyway: it reports failures as
// {step, errno} and leaves the words to the shim.
[[noreturn]] void runTaskChild(const TaskChildPlan& plan) {
  int failureFd = plan.failureFd;
  auto fail = [&failureFd](TaskStep step, int error) {
    reportChildFailure(failureFd, static_cast<int>(step), error);
    _exit(127);
  };
  if (setns(plan.netnsFd, CLONE_NEWNET) != 0) {
    fail(TaskStep::JoinNetwork, errno);
  }
  if (unshare(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC) != 0) {
    fail(TaskStep::UnshareNamespaces, errno);
  }
  // Before any mount of ours: a shared "/" would propagate them to the host.
  if (mount(nullptr, "/", nullptr, MS_REC | MS_SLAVE, nullptr) != 0) {
    fail(TaskStep::MakeMountsSlave, errno);
  }
  if (sethostname(plan.hostname, plan.hostnameLength) != 0) {
    fail(TaskStep::SetHostname, errno);
  }
  if (mount(plan.hostsSource, "/etc/hosts", nullptr, MS_BIND, nullptr) != 0) {
    fail(TaskStep::BindHosts, errno);
  }
  if (mount(plan.hostnameSource, "/etc/hostname", nullptr, MS_BIND, nullptr) != 0) {
    fail(TaskStep::BindHostname, errno);
  }
  if (mount(plan.resolvConfSource, "/etc/resolv.conf", nullptr, MS_BIND, nullptr) != 0) {
    fail(TaskStep::BindResolvConf, errno);
  }
  // A /proc of the task's PID namespace: without it `ps` and /proc/self would show the
  // host's view.
  if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0) {
    fail(TaskStep::MountProc, errno);
  }
  // A /sys of the task's network namespace (so /sys/class/net lists its own devices),
  // read-only like Docker's. Optional: a task runs fine without it.
  if (mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY, nullptr) != 0) {
    static constexpr char kWarning[] = "overmesh shim: warning: cannot mount /sys for the task\n";
    [[maybe_unused]] ssize_t ignored = write(STDERR_FILENO, kWarning, sizeof(kWarning) - 1);
  }
  resetSignalsForExec();
  int fds[] = {plan.devNull, STDOUT_FILENO, STDERR_FILENO, failureFd};
  if (!arrangeDescriptors(fds, 4)) {
    fail(TaskStep::ArrangeDescriptors, errno);
  }
  failureFd = 3;
  // Closed by a successful exec: that EOF is how the shim learns the task runs.
  fcntl(failureFd, F_SETFD, FD_CLOEXEC);
  if (chdir("/") != 0) {
    fail(TaskStep::Exec, errno);
  }
  int error = execSearchingPath(plan.file, plan.argv, plan.envp, plan.path);
  fail(TaskStep::Exec, error);
  _exit(127);
}

Error describeFailure(const ChildFailure& failure, const TaskSpec& spec, const TaskPaths& paths) {
  std::string why = errnoText(failure.error);
  switch (static_cast<TaskStep>(failure.step)) {
    case TaskStep::JoinNetwork:
      return Error{ErrorKind::Unavailable,
                   fmt::format("join network namespace {}: {}", spec.netnsPath, why)};
    case TaskStep::UnshareNamespaces:
      return Error{ErrorKind::Unavailable,
                   fmt::format("create UTS, mount and IPC namespaces: {}", why)};
    case TaskStep::MakeMountsSlave:
      return Error{ErrorKind::Unavailable,
                   fmt::format("make the task's mounts slaves of the host's: {}", why)};
    case TaskStep::SetHostname:
      return Error{ErrorKind::Unavailable,
                   fmt::format("set hostname \"{}\": {}", spec.hostname, why)};
    case TaskStep::BindHosts:
      return Error{ErrorKind::Unavailable,
                   fmt::format("bind-mount {} onto /etc/hosts: {}", paths.hosts(), why)};
    case TaskStep::BindHostname:
      return Error{ErrorKind::Unavailable,
                   fmt::format("bind-mount {} onto /etc/hostname: {}", paths.hostname(), why)};
    case TaskStep::BindResolvConf:
      return Error{ErrorKind::Unavailable,
                   fmt::format("bind-mount {} onto /etc/resolv.conf: {}", paths.resolvConf(), why)};
    case TaskStep::MountProc:
      return Error{ErrorKind::Unavailable, fmt::format("mount /proc for the task: {}", why)};
    case TaskStep::ArrangeDescriptors:
      return Error{ErrorKind::Unavailable,
                   fmt::format("set up the task's stdin, stdout and stderr: {}", why)};
    case TaskStep::Exec:
      return Error{execFailureKind(failure.error),
                   fmt::format("cannot execute \"{}\": {}", spec.command.front(), why)};
    case TaskStep::None:
      break;
  }
  return Error{ErrorKind::Internal,
               fmt::format("task setup step {} failed: {}", failure.step, why)};
}

// Starts the task's process (steps 1-3 of shim.h). Returns its pid once it runs the
// command; on failure nothing of the task remains.
Result<pid_t> launchTask(const TaskPaths& paths) {
  auto self = identityOf(getpid());
  if (!self) {
    return std::unexpected(self.error());
  }
  if (auto written = writeFileAtomically(paths.shimPid(), encodeIdentity(*self)); !written) {
    return std::unexpected(written.error());
  }
  auto specText = readWholeFile(paths.spec());
  if (!specText) {
    return std::unexpected(specText.error());
  }
  auto spec = decodeTaskSpec(*specText);
  if (!spec) {
    return std::unexpected(spec.error());
  }
  if (auto valid = validateTaskSpec(*spec); !valid) {
    return std::unexpected(valid.error());
  }

  int netnsFd = open(spec->netnsPath.c_str(), O_RDONLY | O_CLOEXEC);
  if (netnsFd < 0) {
    return errorf(errno == ENOENT ? ErrorKind::NotFound : ErrorKind::Unavailable,
                  "open network namespace {}: {}", spec->netnsPath, errnoText(errno));
  }
  int devNull = open("/dev/null", O_RDWR | O_CLOEXEC);
  int failurePipe[2] = {-1, -1};
  if (devNull < 0 || pipe2(failurePipe, O_CLOEXEC) != 0) {
    int error = errno;
    close(netnsFd);
    if (devNull >= 0) {
      close(devNull);
    }
    return errorf(ErrorKind::Unavailable, "prepare the task's descriptors: {}", errnoText(error));
  }
  auto closeAll = [&] {
    for (int fd : {netnsFd, devNull, failurePipe[0], failurePipe[1]}) {
      if (fd >= 0) {
        close(fd);
      }
    }
  };

  CStringArray argv(spec->command);
  std::vector<std::string> env = taskEnvironment(*spec);
  std::string path = pathVariable(env);
  CStringArray envp(std::move(env));
  std::string hostsSource = paths.hosts();
  std::string hostnameSource = paths.hostname();
  std::string resolvConfSource = paths.resolvConf();
  TaskChildPlan plan{
      .netnsFd = netnsFd,
      .devNull = devNull,
      .failureFd = failurePipe[1],
      .hostname = spec->hostname.c_str(),
      .hostnameLength = spec->hostname.size(),
      .hostsSource = hostsSource.c_str(),
      .hostnameSource = hostnameSource.c_str(),
      .resolvConfSource = resolvConfSource.c_str(),
      .file = spec->command.front().c_str(),
      .argv = argv.data(),
      .envp = envp.data(),
      .path = path.c_str(),
  };

  // unshare(CLONE_NEWPID) puts only our next child into a new PID namespace (as its PID
  // 1); the shim keeps the host's view. Afterwards the shim returns to its own namespace
  // for children, so that it never forks into the task's (dead, once the task exits:
  // LeakSanitizer's helper thread would fail there).
  int ownPidNamespace = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
  if (ownPidNamespace < 0 || unshare(CLONE_NEWPID) != 0) {
    int error = errno;
    closeAll();
    if (ownPidNamespace >= 0) {
      close(ownPidNamespace);
    }
    return errorf(ErrorKind::Unavailable, "create a PID namespace: {}", errnoText(error));
  }
  pid_t pid = fork();
  int forkError = errno;
  if (pid == 0) {
    runTaskChild(plan);
  }
  if (setns(ownPidNamespace, CLONE_NEWPID) != 0) {
    std::fprintf(stderr, "overmesh shim: return to the host's PID namespace: %s\n",
                 errnoText(errno).c_str());
  }
  close(ownPidNamespace);
  if (pid < 0) {
    closeAll();
    return errorf(ErrorKind::Unavailable, "fork the task: {}", errnoText(forkError));
  }
  close(failurePipe[1]);
  failurePipe[1] = -1;
  ChildFailure failure = readChildFailure(failurePipe[0]);
  closeAll();
  if (failure.step != 0) {
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return std::unexpected(describeFailure(failure, *spec, paths));
  }

  // The task may have exited already; unreaped, it still has its /proc entry.
  auto task = identityOf(pid);
  Status written = task ? writeFileAtomically(paths.taskPid(), encodeIdentity(*task))
                        : Status(std::unexpected(task.error()));
  if (!written) {
    kill(pid, SIGKILL);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return std::unexpected(written.error().withContext("record the task's pid"));
  }
  return pid;
}

void writeLine(int fd, const std::string& line) {
  std::size_t written = 0;
  while (written < line.size()) {
    ssize_t n = write(fd, line.data() + written, line.size() - written);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return;  // the daemon gave up waiting; the task dir still tells the story
    }
    written += static_cast<std::size_t>(n);
  }
}

}  // namespace

int runShim(int argc, char** argv) {
  ShimArguments arguments;
  if (!parseArguments(argc, argv, arguments)) {
    std::fprintf(stderr, "usage: overmeshd shim --task-dir DIR --report-fd N\n");
    return 2;
  }
  // The task must not inherit the report pipe.
  fcntl(arguments.reportFd, F_SETFD, FD_CLOEXEC);
  for (int signal : {SIGTERM, SIGINT, SIGHUP, SIGPIPE}) {
    ::signal(signal, SIG_IGN);
  }
  if (chdir("/") != 0) {
    std::fprintf(stderr, "overmesh shim: chdir /: %s\n", errnoText(errno).c_str());
  }

  TaskPaths paths{arguments.taskDir};
  auto started = launchTask(paths);
  if (!started) {
    writeLine(arguments.reportFd, encodeShimError(started.error()));
    close(arguments.reportFd);
    return 1;
  }
  writeLine(arguments.reportFd, encodeShimStarted(*started));
  close(arguments.reportFd);

  int status = 0;
  while (waitpid(*started, &status, 0) < 0) {
    if (errno != EINTR) {
      std::fprintf(stderr, "overmesh shim: wait for the task: %s\n", errnoText(errno).c_str());
      return 1;
    }
  }
  auto record = exitRecordFromWaitStatus(status);
  if (auto written = writeFileAtomically(paths.exit(), encodeExitRecord(record)); !written) {
    std::fprintf(stderr, "overmesh shim: %s\n", written.error().message.c_str());
    return 1;
  }
  return 0;
}

}  // namespace overmesh::runtime
