#pragma once

// What `overmesh stack …` prints, Docker's lines and tables, and the small pure pieces of
// its input handling (stdin, the environment). Pure: the commands (stack_commands.cc)
// only talk to the daemon and print these.

#include <chrono>
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

// How long `stack deploy` and `stack rm` wait for the daemon: the manager resolves every
// image's digest (deploy) and waits for the stack's tasks to drain (rm), which takes far
// longer than an ordinary request (kDefaultRequestTimeout).
inline constexpr std::chrono::seconds kStackRequestTimeout{180};

// What `stack deploy --with-registry-auth` prints on stderr: the flag is accepted so that
// Docker's scripts run, but no credentials reach the nodes.
inline constexpr const char* kWithRegistryAuthWarning =
    "--with-registry-auth: registry credentials are not supported yet; nodes pull anonymously";

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
