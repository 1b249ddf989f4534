#pragma once

// Checks, before `swarm init` or `swarm join` creates anything, that the TCP ports the
// node's roles will listen on are free, so that a busy port is refused while there is
// still nothing to undo. The check binds and listens the way api::HttpServer does
// (SO_REUSEADDR), then closes; a port taken between the check and the real listen is
// still caught there, and the caller rolls back.

#include <cstdint>
#include <string>
#include <string_view>

#include "common/error.h"

namespace overmesh::daemon {

// Unavailable naming `flag`, the address and the port when nothing can listen on
// `address`:`port` (in use, or the address is not this host's). Port 0 always passes.
Status probeTcpPort(const std::string& address, std::uint16_t port, std::string_view flag);

}  // namespace overmesh::daemon
