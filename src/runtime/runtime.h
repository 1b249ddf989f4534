#pragma once

// The task runtime seam: what the agent needs to run a task (a process in its own network,
// UTS, mount and PID namespaces) and to find it again after overmeshd restarts. The
// default implementation is ProcessRuntime (process_runtime.h), which runs the command on
// the host's filesystem, and ImageRuntime (podman/image_runtime.h), which runs a container
// of an OCI image; RuntimeRouter picks one per task.

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "common/error.h"

namespace overmesh::runtime {

// A bind mount of a node path, or a volume local to the node (created on first use).
struct Mount {
  std::string type = "volume";  // "bind" | "volume"
  std::string source;           // bind: absolute node path; volume: name ("" = anonymous)
  std::string target;           // absolute path in the container
  bool readOnly = false;
};

// What to run. The agent has already made the network namespace at `netnsPath`; it may
// wire eth0 and addresses into it before or after start().
struct TaskSpec {
  std::string taskId;                // unique, [a-z0-9], 1-64 characters
  std::string hostname;              // the task's name, 1-64 characters
  std::vector<std::string> command;  // argv; command[0] looked up in the task's PATH
  std::vector<std::string> env;      // extra KEY=VALUE, overriding the defaults
  std::string netnsPath;             // /run/netns/NAME, joined by the task
  std::string hostsFile;             // content of the task's /etc/hosts
  std::string resolvConf;            // content of the task's /etc/resolv.conf
  // An OCI image (image_runtime.h): the task runs in a container of it, `command` (when
  // given) replacing the image's CMD. Empty: a process on the host's filesystem, and the
  // fields below must be empty too.
  std::string image;
  std::vector<std::string> entrypoint;  // non-empty: replaces the image's ENTRYPOINT
  std::string workdir;                  // "" = the image's
  std::string user;                     // "" = the image's; USER[:GROUP]
  std::vector<Mount> mounts;
  bool readOnly = false;   // root filesystem read-only
  bool init = false;       // an init process as PID 1 (reaps orphans)
  std::string stopSignal;  // "" = the image's STOPSIGNAL or SIGTERM; else "SIGxxx"
  // Container labels (compose `labels:`): an image task's container carries them (beside
  // overmesh's own label, which wins); a process task has no container and ignores them.
  std::map<std::string, std::string> labels;
};

enum class TaskState { Running, Exited };

struct TaskStatus {
  TaskState state = TaskState::Running;
  // Exited: the exit code, or 128 + N when signal N killed the task (as shells report
  // it); -1 when nobody could record how it ended (message says why).
  int exitCode = 0;
  pid_t pid = 0;  // the task's pid as the daemon sees it; 0 when never started
  std::string message;  // why it ended when known (e.g. "OOM killed: out of memory")
};

struct ExecResult {
  int exitCode = 0;  // as TaskStatus::exitCode; 124 when the command timed out
  std::string out;
  std::string err;
  bool timedOut = false;  // the command was killed at the timeout (exitCode is then 124)
};

class TaskRuntime {
 public:
  virtual ~TaskRuntime() = default;

  // Starts the task and returns once its process runs inside its namespaces (Running,
  // with its pid). Fails with InvalidArgument on a bad spec or when the command cannot be
  // found or executed (the message names it), Conflict when the task id exists, and
  // Unavailable when a namespace, mount or file step fails (with the errno text). A
  // failed start leaves no process and no files behind.
  virtual Result<TaskStatus> start(const TaskSpec& spec) = 0;

  // Running while the task's process lives; Exited with its exit code afterwards.
  // NotFound when the task is unknown.
  virtual Result<TaskStatus> status(const std::string& taskId) = 0;

  // Sends SIGTERM, then SIGKILL when the task still runs after `grace`; returns once the
  // task has exited. Succeeds on a task that already exited. NotFound when unknown;
  // Unavailable when the task survives SIGKILL (a process stuck in the kernel).
  virtual Status stop(const std::string& taskId, std::chrono::milliseconds grace) = 0;

  // Kills the task if it runs and deletes its files. Succeeds when the task is unknown.
  virtual Status remove(const std::string& taskId) = 0;

  // Runs `argv` inside the task's namespaces with the task's environment and captures its
  // output. At `timeout` the command is killed and the result has timedOut = true and
  // exitCode 124 (like timeout(1)), with the output so far. Fails with NotFound (unknown
  // task), FailedPrecondition (task not running), InvalidArgument (command not found or
  // not executable) or Unavailable (joining a namespace failed).
  virtual Result<ExecResult> exec(const std::string& taskId, const std::vector<std::string>& argv,
                                  std::chrono::milliseconds timeout) = 0;

  // Ends every exec in progress (its command is killed and exec() fails with Unavailable)
  // and makes later ones fail at once. The daemon calls it before it stops or leaves the
  // swarm: an exec may have no time limit, and the API thread running it must return.
  virtual void cancelExecs() = 0;

  // The last `maxBytes` of the task's stdout and stderr (interleaved as written).
  // NotFound when the task is unknown.
  virtual Result<std::string> logs(const std::string& taskId, std::size_t maxBytes) = 0;

  // The ids of the tasks on disk, sorted: after a daemon restart these are the tasks to
  // adopt (status() tells which still run).
  virtual Result<std::vector<std::string>> list() = 0;
};

}  // namespace overmesh::runtime
