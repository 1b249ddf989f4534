#pragma once

// `node promote NODE…` / `node demote NODE…`: what is printed for each node, in Docker's
// words, built apart from the command so that it is unit-tested.

#include <string>
#include <string_view>

namespace overmesh::cli {

// `reference` as the user typed it; `promote` for `node promote`; `changed` false when the
// node already had the role (the daemon's {"changed": false}).
//   promote: "Node X promoted to a manager in the swarm." / "Node X is already a manager."
//   demote:  "Manager X demoted in the swarm."            / "Node X is already a worker."
std::string roleChangeMessage(std::string_view reference, bool promote, bool changed);

}  // namespace overmesh::cli
