#pragma once

// What the shim tells the daemon while start() waits: one line on the report pipe, then
// EOF. The daemon treats EOF without a line as "the shim died" and a line it cannot parse
// as a bug.
//
//   started PID          the task runs (its pid as the daemon sees it)
//   error KIND MESSAGE   it did not start; KIND is errorKindName(), MESSAGE one line
//   exec-failed ERRNO    written by the daemon's own forked child when the shim binary
//                        itself cannot be executed

#include <sys/types.h>

#include <string>
#include <string_view>

#include "common/error.h"

namespace overmesh::runtime {

inline constexpr std::string_view kShimExecFailedPrefix = "exec-failed ";

std::string encodeShimStarted(pid_t pid);
std::string encodeShimError(const Error& error);

// The pid for "started PID"; the error for "error ..." and "exec-failed ..." (naming
// `shimPath`); Internal for anything else.
Result<pid_t> decodeShimReport(std::string_view line, std::string_view shimPath);

// The kind of error an exec() failure with `error` (errno) is: InvalidArgument when the
// command is wrong (missing, not executable, not a binary), Unavailable otherwise.
ErrorKind execFailureKind(int error);

}  // namespace overmesh::runtime
