#include "manager/manager_status.h"

#include <fmt/format.h>

#include <charconv>
#include <optional>

namespace overmesh::manager {
namespace {

// The port of "IP:PORT", or nullopt.
std::optional<std::uint16_t> portOf(std::string_view address) {
  auto colon = address.rfind(':');
  if (colon == std::string_view::npos) {
    return std::nullopt;
  }
  std::string_view digits = address.substr(colon + 1);
  std::uint16_t port = 0;
  auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
  if (error != std::errc() || end != digits.data() + digits.size() || port == 0) {
    return std::nullopt;
  }
  return port;
}

}  // namespace

std::string managerStatusOf(const api::Node& node, std::string_view leaderNodeId) {
  if (node.role != "manager") {
    return "";
  }
  if (!leaderNodeId.empty() && node.id == leaderNodeId) {
    return "leader";
  }
  return node.state == "ready" ? "reachable" : "unreachable";
}

void fillManagerStatus(std::vector<api::Node>& nodes, std::string_view leaderNodeId) {
  for (auto& node : nodes) {
    node.managerStatus = managerStatusOf(node, leaderNodeId);
  }
}

std::vector<std::string> managerClusterAddresses(const std::vector<ManagerEndpoint>& managers,
                                                 std::string_view leaderNodeId,
                                                 std::string_view leaderAddress,
                                                 std::uint16_t fallbackPort) {
  std::uint16_t port = portOf(leaderAddress).value_or(fallbackPort);
  std::vector<std::string> addresses;
  bool leaderListed = !leaderNodeId.empty() && portOf(leaderAddress).has_value();
  if (leaderListed) {
    addresses.emplace_back(leaderAddress);
  }
  for (const auto& manager : managers) {
    if (leaderListed && manager.nodeId == leaderNodeId) {
      continue;
    }
    if (manager.address.empty()) {
      continue;
    }
    addresses.push_back(fmt::format("{}:{}", manager.address, port));
  }
  return addresses;
}

}  // namespace overmesh::manager
