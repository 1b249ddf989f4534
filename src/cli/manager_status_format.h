#pragma once

// How `node ls` and `info` show the managers' leadership (issue 13), as Docker does.

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace overmesh::cli {

// The MANAGER STATUS column of `node ls` for Node::managerStatus: "Leader", "Reachable",
// "Unreachable", or "" (a worker, or a worker's answer that does not know).
std::string managerStatusColumn(std::string_view managerStatus);

// The store and leadership lines of `info` on a manager (its /v1/info answer has
// "store"), each ending in a newline; "" on a worker.
std::string formatLeadershipLines(const nlohmann::json& info);

}  // namespace overmesh::cli
