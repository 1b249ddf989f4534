#pragma once

// Where a worker finds a manager after a restart when the one it joined through is dead
// (issue 13): the agent's last known list of managers and the leader, kept in
// <state-dir>/managers.json (written atomically) each time the heartbeat teaches the agent
// a new list or leader. It names the node it was written for, so a node that left and
// joined again (a new node ID, maybe another cluster) ignores an old file. Kept apart from
// node.json (NodeState), which says how the node joined.

#include <optional>
#include <string>
#include <vector>

#include "common/error.h"

namespace overmesh::daemon {

struct KnownManagers {
  std::string nodeId;                 // the node this list was learnt by
  std::vector<std::string> managers;  // "IP:PORT" of every manager's cluster port
  std::string leader;                 // "" when none was known
};

// The saved list; nullopt when there is none. Internal naming the file when it is corrupt
// (the caller logs it and starts from the joined manager alone).
Result<std::optional<KnownManagers>> loadKnownManagers(const std::string& stateDir);
Status saveKnownManagers(const std::string& stateDir, const KnownManagers& known);
Status removeKnownManagers(const std::string& stateDir);

// The addresses a worker's agent starts with: the saved leader, the saved managers, then
// the manager it joined through, without duplicates; only `joinedManager` when `known` is
// another node's (or absent). Pure.
std::vector<std::string> startingManagers(const std::string& joinedManager,
                                          const std::optional<KnownManagers>& known,
                                          const std::string& nodeId);

}  // namespace overmesh::daemon
