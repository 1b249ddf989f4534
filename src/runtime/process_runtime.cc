#include "runtime/process_runtime.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "common/atomic_file.h"
#include "dataplane/linux/netns.h"
#include "runtime/child_process.h"
#include "runtime/process_handle.h"
#include "runtime/shim_protocol.h"
#include "runtime/task_exec.h"

namespace overmesh::runtime {
namespace {

using dataplane::kernel::UniqueFd;

// How long status() waits for a live shim to record the exit of its task (it does so
// right after reaping it), and remove() for the shim to exit.
constexpr std::chrono::seconds kShimRecordTimeout{2};
constexpr std::chrono::seconds kShimExitTimeout{5};
// How long a task may take to die after SIGKILL (a process in uninterruptible sleep).
constexpr std::chrono::seconds kKillTimeout{10};
constexpr std::size_t kLogTailInErrors = 1024;

// The shim's environment: a PATH and the lab's mark, nothing else of the daemon's.
std::vector<std::string> shimEnvironment() {
  std::vector<std::string> env = {fmt::format("PATH={}", kDefaultPath)};
  if (const char* lab = std::getenv("OVERMESH_LAB"); lab != nullptr) {
    env.push_back(fmt::format("OVERMESH_LAB={}", lab));
  }
  return env;
}

// The end of the task's log, for error messages about a shim that died.
std::string logTail(const TaskPaths& paths) {
  auto tail = readFileTail(paths.log(), kLogTailInErrors);
  if (!tail || tail->empty()) {
    return "(the task log is empty)";
  }
  std::string text = std::move(*tail);
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) {
    text.pop_back();
  }
  return fmt::format("task log: {}", text);
}

void waitForChild(pid_t pid, int* status = nullptr) {
  int ignored = 0;
  while (waitpid(pid, status != nullptr ? status : &ignored, 0) < 0 && errno == EINTR) {
  }
}

}  // namespace

ProcessRuntime::ProcessRuntime(std::string stateDir, std::string shimPath)
    : stateDir_(std::move(stateDir)), shimPath_(std::move(shimPath)) {
  int ends[2] = {-1, -1};
  if (pipe2(ends, O_CLOEXEC) != 0) {
    spdlog::error("exec cancellation unavailable (pipe: {}): an exec without a time limit "
                  "will hold up a daemon stop until it ends",
                  errnoText(errno));
    return;
  }
  cancelRead_ = dataplane::kernel::UniqueFd(ends[0]);
  cancelWrite_ = dataplane::kernel::UniqueFd(ends[1]);
}

void ProcessRuntime::cancelExecs() {
  std::call_once(cancelled_, [this] {
    // Closing the write end makes the read end readable (EOF) for every exec, now and later.
    cancelWrite_.reset();
  });
}

ProcessRuntime::~ProcessRuntime() { reapShims(); }

TaskPaths ProcessRuntime::pathsOf(const std::string& taskId) const {
  return TaskPaths{fmt::format("{}/{}", stateDir_, taskId)};
}

Result<TaskPaths> ProcessRuntime::existingTask(const std::string& taskId) const {
  if (auto valid = validateTaskId(taskId); !valid) {
    return std::unexpected(valid.error());
  }
  TaskPaths paths = pathsOf(taskId);
  if (access(paths.spec().c_str(), F_OK) != 0) {
    return errorf(ErrorKind::NotFound, "no task {} in {}", taskId, stateDir_);
  }
  return paths;
}

void ProcessRuntime::reapShims() {
  std::lock_guard lock(mutex_);
  for (auto it = shims_.begin(); it != shims_.end();) {
    int status = 0;
    pid_t done = waitpid(*it, &status, WNOHANG);
    // ECHILD: someone else reaped it (a SIGCHLD set to SIG_IGN does that).
    if (done == *it || (done < 0 && errno == ECHILD)) {
      it = shims_.erase(it);
    } else {
      ++it;
    }
  }
}

namespace {

// Removes what a start that failed had written. The start's own error is what the caller
// reports; a directory that cannot be removed is logged (list() skips a directory
// without spec.json, so a leftover one is harmless but worth knowing about).
void discardTaskDir(const TaskPaths& paths) {
  std::error_code error;
  std::filesystem::remove_all(paths.dir, error);
  if (error) {
    spdlog::warn("failed start: cannot remove {}: {}", paths.dir, error.message());
  }
}

}  // namespace

Result<TaskStatus> ProcessRuntime::start(const TaskSpec& spec) {
  if (auto valid = validateTaskSpec(spec); !valid) {
    return std::unexpected(valid.error());
  }
  reapShims();
  auto context = fmt::format("start task {}", spec.taskId);
  std::error_code error;
  std::filesystem::create_directories(stateDir_, error);
  if (error) {
    return errorf(ErrorKind::Unavailable, "{}: create {}: {}", context, stateDir_, error.message());
  }
  TaskPaths paths = pathsOf(spec.taskId);
  if (mkdir(paths.dir.c_str(), 0700) != 0) {
    if (errno == EEXIST) {
      return errorf(ErrorKind::Conflict, "{}: the task already exists ({})", context, paths.dir);
    }
    return errorf(ErrorKind::Unavailable, "{}: create {}: {}", context, paths.dir,
                  errnoText(errno));
  }
  // The spec goes last: a directory without spec.json is not a task (list() skips it).
  for (const auto& [path, content] :
       {std::pair{paths.hosts(), spec.hostsFile}, std::pair{paths.hostname(), spec.hostname + "\n"},
        std::pair{paths.resolvConf(), spec.resolvConf},
        std::pair{paths.spec(), encodeTaskSpec(spec)}}) {
    if (auto written = writeFileAtomically(path, content); !written) {
      discardTaskDir(paths);
      return std::unexpected(written.error().withContext(context));
    }
  }

  UniqueFd report;
  auto shim = spawnShim(paths, report);
  if (!shim) {
    discardTaskDir(paths);
    return std::unexpected(shim.error().withContext(context));
  }
  auto pid = awaitReport(report.get(), *shim, paths);
  if (!pid) {
    abandonStart(paths, *shim);
    return std::unexpected(pid.error().withContext(context));
  }
  spdlog::info("task started id={} pid={} shim={} command={}", spec.taskId, *pid, *shim,
               spec.command.front());
  return TaskStatus{TaskState::Running, 0, *pid, ""};
}

Result<pid_t> ProcessRuntime::spawnShim(const TaskPaths& paths, UniqueFd& report) {
  UniqueFd log(open(paths.log().c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
  if (!log.valid()) {
    return errorf(ErrorKind::Unavailable, "create {}: {}", paths.log(), errnoText(errno));
  }
  UniqueFd devNull(open("/dev/null", O_RDWR | O_CLOEXEC));
  if (!devNull.valid()) {
    return errorf(ErrorKind::Unavailable, "open /dev/null: {}", errnoText(errno));
  }
  int ends[2] = {-1, -1};
  if (pipe2(ends, O_CLOEXEC) != 0) {
    return errorf(ErrorKind::Unavailable, "create the shim's report pipe: {}", errnoText(errno));
  }
  UniqueFd readEnd(ends[0]);
  UniqueFd writeEnd(ends[1]);

  // Everything the child touches is ready before fork(): it may only make system calls.
  CStringArray argv({shimPath_, "shim", "--task-dir", paths.dir, "--report-fd", "3"});
  CStringArray envp(shimEnvironment());
  const char* shimPath = shimPath_.c_str();
  char failedLine[64] = {};
  std::size_t prefixLength = kShimExecFailedPrefix.size();
  std::copy(kShimExecFailedPrefix.begin(), kShimExecFailedPrefix.end(), failedLine);
  int fds[] = {devNull.get(), log.get(), log.get(), writeEnd.get()};

  pid_t pid = fork();
  if (pid < 0) {
    return errorf(ErrorKind::Unavailable, "fork the shim: {}", errnoText(errno));
  }
  if (pid == 0) {
    if (!arrangeDescriptors(fds, 4)) {
      _exit(127);
    }
    // A session of its own: no terminal and no process-group signal of the daemon's
    // reaches the shim or the task.
    setsid();
    resetSignalsForExec();
    execve(shimPath, argv.data(), envp.data());
    std::size_t length =
        prefixLength + static_cast<std::size_t>(formatDecimal(errno, failedLine + prefixLength));
    failedLine[length++] = '\n';
    [[maybe_unused]] ssize_t ignored = write(3, failedLine, length);
    _exit(127);
  }
  {
    std::lock_guard lock(mutex_);
    shims_.insert(pid);
  }
  report = std::move(readEnd);
  return pid;
}

Result<pid_t> ProcessRuntime::awaitReport(int reportFd, pid_t shim, const TaskPaths& paths) {
  auto deadline = std::chrono::steady_clock::now() + kStartTimeout;
  std::string line;
  while (line.find('\n') == std::string::npos) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      return errorf(ErrorKind::Unavailable, "the shim (pid {}) did not report within {} s; {}",
                    shim, kStartTimeout.count(), logTail(paths));
    }
    pollfd readable{reportFd, POLLIN, 0};
    if (poll(&readable, 1, static_cast<int>(left.count())) < 0 && errno != EINTR) {
      return errorf(ErrorKind::Unavailable, "wait for the shim: poll: {}", errnoText(errno));
    }
    if (readable.revents == 0) {
      continue;
    }
    char buffer[512];
    ssize_t n = read(reportFd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      return errorf(ErrorKind::Unavailable, "read the shim's report: {}", errnoText(errno));
    }
    if (n == 0) {
      break;
    }
    line.append(buffer, static_cast<std::size_t>(n));
  }
  if (line.empty()) {
    return errorf(ErrorKind::Unavailable, "the shim (pid {}) ended without reporting; {}", shim,
                  logTail(paths));
  }
  return decodeShimReport(line.substr(0, line.find('\n')), shimPath_);
}

void ProcessRuntime::abandonStart(const TaskPaths& paths, pid_t shim) {
  // The task runs if the shim died (or hung) after starting it.
  if (auto task = readIdentityFile(paths.taskPid())) {
    if (auto handle = ProcessHandle::open(*task)) {
      if (handle->signal(SIGKILL)) {
        handle->waitForExit(kKillTimeout);
      }
    }
  }
  {
    // Under the lock reapShims() cannot reap the shim, so its pid cannot be reused yet.
    std::lock_guard lock(mutex_);
    if (shims_.erase(shim) > 0) {
      kill(shim, SIGKILL);
      waitForChild(shim);
    }
  }
  discardTaskDir(paths);
}

Result<TaskStatus> ProcessRuntime::status(const std::string& taskId) {
  auto paths = existingTask(taskId);
  if (!paths) {
    return std::unexpected(paths.error());
  }
  reapShims();
  return readStatus(*paths);
}

Result<TaskStatus> ProcessRuntime::readStatus(const TaskPaths& paths) const {
  auto task = readIdentityFile(paths.taskPid());
  if (!task && task.error().kind != ErrorKind::NotFound) {
    return std::unexpected(task.error());
  }
  pid_t pid = task ? task->pid : 0;
  auto recorded = [&]() -> Result<TaskStatus> {
    auto record = readExitRecord(paths.exit());
    if (!record) {
      return std::unexpected(record.error());
    }
    return TaskStatus{TaskState::Exited, record->exitCode, pid, describeExit(*record)};
  };
  if (auto exited = recorded(); exited || exited.error().kind != ErrorKind::NotFound) {
    return exited;
  }
  auto shim = readIdentityFile(paths.shimPid());
  if (!task) {
    if (shim && isRunning(*shim)) {
      return TaskStatus{TaskState::Running, 0, 0, "starting"};
    }
    return TaskStatus{TaskState::Exited, -1, 0, "the task never started"};
  }
  if (isRunning(*task)) {
    return TaskStatus{TaskState::Running, 0, pid, ""};
  }
  // Gone: a live shim is about to record how it ended (it reaps it, writes exit.json and
  // exits). Checked again after the wait, as the shim may have written it just now.
  if (shim) {
    waitUntilGone(*shim, kShimRecordTimeout);
  }
  if (auto exited = recorded(); exited || exited.error().kind != ErrorKind::NotFound) {
    return exited;
  }
  return TaskStatus{TaskState::Exited, -1, pid, "exited while the shim was gone"};
}

Status ProcessRuntime::stop(const std::string& taskId, std::chrono::milliseconds grace) {
  auto paths = existingTask(taskId);
  if (!paths) {
    return std::unexpected(paths.error());
  }
  reapShims();
  return stopProcess(*paths, taskId, grace);
}

Status ProcessRuntime::stopProcess(const TaskPaths& paths, const std::string& taskId,
                                   std::chrono::milliseconds grace) const {
  auto task = readIdentityFile(paths.taskPid());
  if (!task) {
    // NotFound: it never started, so nothing runs.
    return task.error().kind == ErrorKind::NotFound ? Status{}
                                                    : Status(std::unexpected(task.error()));
  }
  auto handle = ProcessHandle::open(*task);
  if (!handle) {
    return handle.error().kind == ErrorKind::NotFound ? Status{}
                                                      : Status(std::unexpected(handle.error()));
  }
  if (auto sent = handle->signal(SIGTERM); !sent) {
    return std::unexpected(sent.error().withContext(fmt::format("stop task {}", taskId)));
  }
  if (!handle->waitForExit(grace)) {
    spdlog::info("task {} still runs {} ms after SIGTERM; killing it", taskId, grace.count());
    if (auto sent = handle->signal(SIGKILL); !sent) {
      return std::unexpected(sent.error().withContext(fmt::format("stop task {}", taskId)));
    }
    if (!handle->waitForExit(kKillTimeout)) {
      return errorf(ErrorKind::Unavailable, "stop task {}: pid {} survived SIGKILL for {} s",
                    taskId, task->pid, kKillTimeout.count());
    }
  }
  // So that status() right after this says how the task ended.
  if (auto shim = readIdentityFile(paths.shimPid())) {
    waitUntilGone(*shim, kShimRecordTimeout);
  }
  spdlog::info("task stopped id={} pid={}", taskId, task->pid);
  return {};
}

Status ProcessRuntime::remove(const std::string& taskId) {
  if (auto valid = validateTaskId(taskId); !valid) {
    return valid;
  }
  TaskPaths paths = pathsOf(taskId);
  if (access(paths.dir.c_str(), F_OK) != 0 && errno == ENOENT) {
    return {};
  }
  reapShims();
  if (auto stopped = stopProcess(paths, taskId, std::chrono::milliseconds(0)); !stopped) {
    return std::unexpected(stopped.error().withContext(fmt::format("remove task {}", taskId)));
  }
  // The shim exits right after recording the exit; one that does not has nothing left to
  // do, and it must not write into the directory after it is gone.
  if (auto shim = readIdentityFile(paths.shimPid());
      shim && !waitUntilGone(*shim, kShimExitTimeout)) {
    if (auto handle = ProcessHandle::open(*shim); handle && handle->signal(SIGKILL)) {
      handle->waitForExit(kKillTimeout);
    }
  }
  reapShims();
  std::error_code error;
  std::filesystem::remove_all(paths.dir, error);
  if (error) {
    return errorf(ErrorKind::Unavailable, "remove task {}: delete {}: {}", taskId, paths.dir,
                  error.message());
  }
  spdlog::info("task removed id={}", taskId);
  return {};
}

Result<ExecResult> ProcessRuntime::exec(const std::string& taskId,
                                        const std::vector<std::string>& argv,
                                        std::chrono::milliseconds timeout) {
  auto paths = existingTask(taskId);
  if (!paths) {
    return std::unexpected(paths.error());
  }
  reapShims();
  auto context = fmt::format("exec in task {}", taskId);
  auto current = readStatus(*paths);
  if (!current) {
    return std::unexpected(current.error().withContext(context));
  }
  auto task = readIdentityFile(paths->taskPid());
  if (current->state != TaskState::Running || !task) {
    return errorf(ErrorKind::FailedPrecondition, "{}: the task is not running ({})", context,
                  current->message.empty() ? "no process" : current->message);
  }
  auto specText = readWholeFile(paths->spec());
  auto spec =
      specText ? decodeTaskSpec(*specText) : Result<TaskSpec>(std::unexpected(specText.error()));
  if (!spec) {
    return std::unexpected(spec.error().withContext(context));
  }
  auto result = execInNamespaces(*task, argv, taskEnvironment(*spec), timeout, cancelRead_.get());
  if (!result) {
    return std::unexpected(result.error().withContext(context));
  }
  return result;
}

Result<std::string> ProcessRuntime::logs(const std::string& taskId, std::size_t maxBytes) {
  auto paths = existingTask(taskId);
  if (!paths) {
    return std::unexpected(paths.error());
  }
  auto tail = readFileTail(paths->log(), maxBytes);
  if (!tail && tail.error().kind == ErrorKind::NotFound) {
    return std::string();
  }
  return tail;
}

Result<std::vector<std::string>> ProcessRuntime::list() {
  std::vector<std::string> ids;
  std::error_code error;
  std::filesystem::directory_iterator entries(stateDir_, error);
  if (error) {
    if (error == std::errc::no_such_file_or_directory) {
      return ids;
    }
    return errorf(ErrorKind::Unavailable, "list tasks in {}: {}", stateDir_, error.message());
  }
  for (const auto& entry : entries) {
    std::string name = entry.path().filename().string();
    if (validateTaskId(name) && access(pathsOf(name).spec().c_str(), F_OK) == 0) {
      ids.push_back(std::move(name));
    }
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

}  // namespace overmesh::runtime
