#pragma once

// The manager names the Store's key layout manager::keys. The layout itself is shared
// with the agent and lives in state/keys.h.

#include "state/keys.h"

namespace overmesh::manager {
namespace keys = state::keys;
}  // namespace overmesh::manager
