#pragma once

// Test helpers that run the real binaries: a CLI invocation with its output and exit
// status, and an overmeshd in a network namespace of its own (never the machine's).

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace overmesh::testing {

struct CommandResult {
  int exitCode = -1;
  std::string out;
  std::string err;
};

// Runs `argv` (argv[0] a path) to completion and captures stdout and stderr.
// `unshareNet` runs it in a fresh network namespace (needs root).
CommandResult runCommand(const std::vector<std::string>& argv, bool unshareNet = false);

// Path of a built binary ("overmesh" or "overmeshd"), or the one that OVERMESH_TEST_CLI
// (overmesh) or OVERMESH_TEST_DAEMON (overmeshd) names, e.g. an installed package's.
std::string binaryPath(const std::string& name);

// True when the tests may create namespaces (running as root).
bool canUseNamespaces();

// Whether `tool` is a command found in PATH.
bool toolInstalled(const std::string& tool);

// The pids of the processes (not this one) whose command line contains `text`, e.g. the
// conmons of a test's own podman storage.
std::vector<pid_t> pidsWhoseCommandLineHas(const std::string& text);

// `argv` joined by spaces, for `sh -c` (the words must need no quoting).
std::string joinedCommand(const std::vector<std::string>& argv);

// The whole content of `path` (bytes as they are); empty when it cannot be read.
std::string readFile(const std::string& path);

// The non-empty lines of a command's output.
std::vector<std::string> nonEmptyLines(const std::string& text);

// True when `pid` runs and is not a zombie: PID 1 on these machines does not reap the
// daemons and shims it inherits, so a killed one stays as a zombie.
bool processRuns(pid_t pid);

// A temporary directory removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// One overmeshd, started in a fresh network namespace with its own socket and state
// directory. Stopped (SIGTERM, then SIGKILL after 10 s) on destruction.
class DaemonProcess {
 public:
  DaemonProcess(std::string socketPath, std::string stateDir);
  ~DaemonProcess();
  DaemonProcess(const DaemonProcess&) = delete;
  DaemonProcess& operator=(const DaemonProcess&) = delete;

  // Starts the daemon and waits (up to 10 s) until its API answers. False on failure;
  // the daemon's log is then in log().
  bool start(const std::vector<std::string>& extraArgs = {});
  // SIGTERM and wait; returns the exit status (or -1).
  int stop();
  // SIGKILL and wait: a crash.
  void kill9();
  pid_t pid() const { return pid_; }
  std::string log() const;

  // Runs the CLI against this daemon: overmesh -H unix://socket ARGS...
  CommandResult cli(const std::vector<std::string>& args) const;
  const std::string& socketPath() const { return socketPath_; }

 private:
  std::string socketPath_;
  std::string stateDir_;
  std::string logPath_;
  pid_t pid_ = -1;
};

}  // namespace overmesh::testing
