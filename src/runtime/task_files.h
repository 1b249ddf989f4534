#pragma once

// The on-disk layout of one task, shared by the daemon (ProcessRuntime) and the shim: the
// only channel between them once start() has returned, and what a restarted daemon
// adopts. Everything here is plain file I/O on <stateDir>/<taskId>/:
//
//   spec.json    the TaskSpec minus the etc contents (written by start())
//   hosts, hostname, resolv.conf   bind-mounted over the task's /etc files
//   task.log     the task's stdout and stderr (and the shim's own complaints)
//   shim.pid     "PID STARTTIME" of the shim (written by the shim)
//   task.pid     "PID STARTTIME" of the task's process (written by the shim once it runs)
//   exit.json    {"exitCode": N, "signal": S} (written by the shim when the task ends)
//
// A pid alone could be reused by an unrelated process after the task ends, so a process
// is identified by its pid plus its start time (field 22 of /proc/PID/stat).

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "runtime/runtime.h"

namespace overmesh::runtime {

struct TaskPaths {
  std::string dir;

  std::string spec() const { return dir + "/spec.json"; }
  std::string hosts() const { return dir + "/hosts"; }
  std::string hostname() const { return dir + "/hostname"; }
  std::string resolvConf() const { return dir + "/resolv.conf"; }
  std::string log() const { return dir + "/task.log"; }
  std::string shimPid() const { return dir + "/shim.pid"; }
  std::string taskPid() const { return dir + "/task.pid"; }
  std::string exit() const { return dir + "/exit.json"; }
};

// InvalidArgument unless `taskId` is 1-64 characters of [a-z0-9] (it names a directory,
// so this also keeps it from escaping the state directory).
Status validateTaskId(std::string_view taskId);

// InvalidArgument naming the first problem: bad id or hostname, empty command, an env
// entry without "KEY=", an empty netns path.
Status validateTaskSpec(const TaskSpec& spec);

// spec.json: the spec without hostsFile and resolvConf (those have files of their own).
std::string encodeTaskSpec(const TaskSpec& spec);
Result<TaskSpec> decodeTaskSpec(std::string_view text);

// The PATH of tasks (and of the shim) unless the spec sets one.
inline constexpr const char* kDefaultPath =
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// The task's environment: PATH, HOME and HOSTNAME defaults, OVERMESH_LAB when the caller
// has it (the lab finds its processes by it), then spec.env (a later KEY replaces an
// earlier one). Nothing else of the daemon's environment leaks into a task.
std::vector<std::string> taskEnvironment(const TaskSpec& spec);

// The value of PATH in `env` ("" when absent).
std::string pathVariable(const std::vector<std::string>& env);

// A process as the pid plus its start time (clock ticks since boot).
struct ProcessIdentity {
  pid_t pid = 0;
  std::uint64_t startTime = 0;
  bool operator==(const ProcessIdentity&) const = default;
};

// What /proc/<pid>/stat says about `pid`.
struct ProcessInfo {
  char state = '?';  // R, S, D, Z, ...
  std::uint64_t startTime = 0;
};
// NotFound when the process does not exist (or was reaped).
Result<ProcessInfo> readProcessInfo(pid_t pid);

// The identity of the live process `pid`; NotFound when it does not exist.
Result<ProcessIdentity> identityOf(pid_t pid);

// True while the process exists, is not a zombie and still has the same start time.
bool isRunning(const ProcessIdentity& process);

std::string encodeIdentity(const ProcessIdentity& process);
// NotFound when the file is missing; InvalidArgument when it is malformed.
Result<ProcessIdentity> readIdentityFile(const std::string& path);

struct ExitRecord {
  int exitCode = 0;  // 128 + signal when killed by a signal
  int signal = 0;    // 0 when the task exited by itself
};
// From a waitpid() status.
ExitRecord exitRecordFromWaitStatus(int waitStatus);
std::string encodeExitRecord(const ExitRecord& record);
// NotFound when the file is missing; InvalidArgument when it is malformed.
Result<ExitRecord> readExitRecord(const std::string& path);
// "exited with code 3" or "killed by signal 9 (Killed)".
std::string describeExit(const ExitRecord& record);

// The whole file. NotFound when it does not exist, Unavailable on other errors.
Result<std::string> readWholeFile(const std::string& path);

// The last `maxBytes` of the file; NotFound / Unavailable as readWholeFile.
Result<std::string> readFileTail(const std::string& path, std::size_t maxBytes);

}  // namespace overmesh::runtime
