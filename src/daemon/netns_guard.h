#pragma once

#include "common/error.h"

namespace overmesh::daemon {

// True when this process appears to run in the machine's own network namespace.
// overmeshd programs links, routes and rules in its namespace, so by default it refuses
// to start there (DESIGN.md "Safety rules"); --allow-root-netns overrides.
//
// When PID 1's namespace is readable, "the machine's own" means "the same as PID 1's".
// In sandboxes that hide PID 1, a namespace counts as safe when it is a named one
// (bound under /run/netns, as lab hosts are) or holds nothing but a loopback device (a
// fresh `unshare -n`); anything else is treated as the machine's.
Result<bool> inMachineNetworkNamespace();

}  // namespace overmesh::daemon
