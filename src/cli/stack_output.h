#pragma once

// What `overmesh stack …` prints, Docker's lines and tables, and the small pure pieces of
// its input handling (stdin, the environment). Pure: the commands (stack_commands.cc)
// only talk to the daemon and print these.

#include <cstddef>
#include <istream>
#include <ostream>
#include <string>
#include <vector>

#include "api/service_types.h"
#include "api/stack_types.h"
#include "common/error.h"
#include "compose/compose.h"

namespace overmesh::cli {

// The most `-c -` reads from stdin.
inline constexpr std::size_t kMaxStdinCompose = 4 * 1024 * 1024;

// `stack deploy`'s stdout, one line per action, in this order:
//   Creating network web_default
//   Creating service web_web
//   Updating service web_api (id: ID)
//   Service web_db is unchanged
//   Removing service web_old
std::vector<std::string> stackDeployLines(const api::StackDeployReply& reply);

// `stack rm`'s output for one stack: "Removing service X" lines, then "Removing network X"
// (stdout), and the reply's errors ("Failed to remove network X: …", stderr).
struct StackRemoveOutput {
  std::vector<std::string> out;
  std::vector<std::string> err;
};
StackRemoveOutput stackRemoveLines(const api::StackRemoveReply& reply);

// `stack ls`: the table NAME SERVICES, ordered by name.
void printStackTable(std::ostream& out, std::vector<api::StackSummary> stacks);

// The services carrying com.docker.stack.namespace=<stack>, ordered by name.
std::vector<api::Service> servicesOfStack(const std::vector<api::Service>& services,
                                          const std::string& stack);

// All of `in`, or InvalidArgument naming `what` when it holds more than `maxBytes`.
Result<std::string> readBoundedStream(std::istream& in, std::size_t maxBytes,
                                      const std::string& what);

// "KEY=VALUE" entries (as `environ` holds them) as the interpolation environment; an entry
// without '=' is skipped. `envp` is null-terminated; null = empty.
compose::Environment environmentFromEntries(const char* const* envp);

}  // namespace overmesh::cli
