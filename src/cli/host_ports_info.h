#pragma once

// What `overmesh info` prints about the ports a node needs and the host firewall (issue 14).

#include <nlohmann/json.hpp>
#include <string>

namespace overmesh::cli {

// The "Ports needed:" and "Host firewall:" lines (each ending in '\n') from an info answer's
// "ports" and "firewall" fields; nothing when the daemon sent neither (an older one).
// Fields of the wrong type are shown as absent, never thrown on.
std::string formatHostPorts(const nlohmann::json& info);

}  // namespace overmesh::cli
