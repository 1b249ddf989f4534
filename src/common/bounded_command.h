#pragma once

// Runs a helper program (skopeo, …) as a child process without a shell, with a deadline
// and a bound on the output kept, for callers in a multithreaded daemon: the child is
// started with posix_spawn (no code of ours runs between fork and exec), gets /dev/null
// as stdin, no descriptor of ours but its stdout and stderr pipes, and the default signal
// mask and dispositions (the daemon blocks SIGTERM and SIGINT).

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "common/error.h"

namespace overmesh {

struct BoundedCommand {
  std::vector<std::string> argv;  // argv[0] is searched in PATH
  // KEY=VALUE entries that replace (or add to) the daemon's environment for the command.
  std::vector<std::string> env;
  std::chrono::milliseconds timeout{10'000};
  std::size_t maxOutBytes = 4 << 20;  // bytes of stdout kept; the rest is read and dropped
  std::size_t maxErrBytes = 64 << 10;
};

struct CommandOutput {
  int exitCode = 0;  // the exit status, or 128 + the signal that ended it
  std::string out;
  std::string err;
  bool outTruncated = false;  // stdout had more than maxOutBytes
  bool timedOut = false;      // killed (SIGKILL) at the deadline
};

// Runs `command` to its end or its deadline. Fails (Internal, or NotFound when argv[0]
// cannot be found in PATH) only when it could not be started; a non-zero exit, a signal
// or a timeout is reported in the CommandOutput. Blocks the calling thread for at most
// about `timeout`.
Result<CommandOutput> runBoundedCommand(const BoundedCommand& command);

// The last non-empty line of `text`, without surrounding spaces, at most `maxBytes`
// bytes: what a helper's error output usually says last is why it failed.
std::string lastLine(std::string_view text, std::size_t maxBytes = 512);

}  // namespace overmesh
