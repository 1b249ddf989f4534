#pragma once

// Typed errors (the libnetwork idea): the kind travels with the message so that callers
// classify without matching strings; the API maps a kind to an HTTP status and the CLI
// to an exit code. Every fallible function returns Result<T> (std::expected).

#include <expected>
#include <string>
#include <string_view>
#include <utility>

#include <fmt/format.h>

namespace overmesh {

enum class ErrorKind {
  InvalidArgument,     // the caller's input is wrong; retrying the same request fails again
  NotFound,            // the named object does not exist
  Conflict,            // the request clashes with existing state (name taken, subnet overlaps)
  FailedPrecondition,  // the system is not in a state that allows it (not a manager, in use)
  Unauthenticated,     // missing or wrong credentials (join token)
  PermissionDenied,    // the caller is known but its role may not do this (a worker's cert)
  Unavailable,         // a peer, the disk or the kernel failed; retrying may succeed
  Compacted,           // a watch asked for history that was compacted; relist and resume
  Internal,            // a bug or an unexpected environment failure
};

std::string_view errorKindName(ErrorKind kind);
// Inverse of errorKindName; unknown names map to Internal.
ErrorKind errorKindFromName(std::string_view name);

struct Error {
  ErrorKind kind = ErrorKind::Internal;
  std::string message;

  // Prefixes context ("network create: ") to the message, keeping the kind.
  Error withContext(std::string_view context) const& {
    return Error{kind, fmt::format("{}: {}", context, message)};
  }
};

template <typename T>
using Result = std::expected<T, Error>;
using Status = Result<void>;

inline std::unexpected<Error> makeError(ErrorKind kind, std::string message) {
  return std::unexpected(Error{kind, std::move(message)});
}

template <typename... Args>
std::unexpected<Error> errorf(ErrorKind kind, fmt::format_string<Args...> format, Args&&... args) {
  return std::unexpected(Error{kind, fmt::format(format, std::forward<Args>(args)...)});
}

// The text of errno `err` ("Operation not permitted"), for messages that quote the kernel.
std::string errnoText(int err);

}  // namespace overmesh
