#include "dataplane/host_cleanup_plan.h"

#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "dataplane/gateway_nat.h"
#include "dataplane/mesh_rules.h"
#include "dataplane/underlay_filter_rules.h"

namespace overmesh::dataplane {
namespace {

bool allOf(std::string_view text, bool (*accept)(char)) {
  return !text.empty() && std::all_of(text.begin(), text.end(), accept);
}
bool isDigit(char c) { return c >= '0' && c <= '9'; }
bool isLowerHex(char c) { return isDigit(c) || (c >= 'a' && c <= 'f'); }
bool isIdChar(char c) { return isDigit(c) || (c >= 'a' && c <= 'z'); }

// "omvx" + a decimal VNI (at most 8 digits: VNIs are 24-bit).
bool isDeviceOfVni(std::string_view name, std::string_view stem) {
  if (!name.starts_with(stem)) {
    return false;
  }
  std::string_view vni = name.substr(stem.size());
  return vni.size() <= 8 && allOf(vni, isDigit);
}

// hostVethName(): "omv" + 8 hex + one digit; gatewayVethName(): "omg" + 8 hex.
bool isTaskVethName(std::string_view name) {
  if (name.size() == 12 && name.starts_with("omv")) {
    return allOf(name.substr(3, 8), isLowerHex) && isDigit(name[11]);
  }
  if (name.size() == 11 && name.starts_with("omg")) {
    return allOf(name.substr(3), isLowerHex);
  }
  return false;
}

// Removal rank of an owned link: task veths, VXLAN devices, overlay bridges, gateway bridge.
int linkRank(const HostLink& link, const OwnedNames& names) {
  if (link.type == "veth") {
    return 0;
  }
  if (link.type == "vxlan") {
    return 1;
  }
  return link.name == names.gatewayBridge ? 3 : 2;
}

}  // namespace

std::string CleanupStep::describe() const {
  switch (kind) {
    case CleanupKind::Task:
      return fmt::format("task {}", name);
    case CleanupKind::Namespace:
      return fmt::format("network namespace {}", name);
    case CleanupKind::Link:
      return fmt::format("link {}", name);
    case CleanupKind::Table:
      return fmt::format("nftables table {} {}", family, name);
  }
  return name;
}

Result<std::vector<NftTableName>> tablesOfRuleset(std::string_view json) {
  // Parsed without exceptions: a malformed answer is an error, never a throw.
  auto parsed = nlohmann::json::parse(json, nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object() || !parsed.contains("nftables") ||
      !parsed["nftables"].is_array()) {
    return errorf(ErrorKind::Unavailable,
                  "list ruleset: nft answered something that is not its JSON ruleset");
  }
  std::vector<NftTableName> tables;
  for (const auto& entry : parsed["nftables"]) {
    if (!entry.is_object() || !entry.contains("table") || !entry["table"].is_object()) {
      continue;
    }
    const auto& table = entry["table"];
    auto family = table.find("family");
    auto name = table.find("name");
    if (family != table.end() && family->is_string() && name != table.end() && name->is_string()) {
      tables.push_back({family->get<std::string>(), name->get<std::string>()});
    }
  }
  return tables;
}

std::vector<NftTableName> ownedHostTables() {
  return {{std::string(kMeshFamily), std::string(kMeshTable)},
          {std::string(kGatewayNatFamily), std::string(kGatewayNatTable)},
          {std::string(kUnderlayFamily), std::string(kUnderlayTable)}};
}

bool isOwnedTaskNamespace(std::string_view name, const OwnedNames& names) {
  std::string stem = names.netnsPrefix + "t-";
  if (!name.starts_with(stem)) {
    return false;
  }
  std::string_view id = name.substr(stem.size());
  return id.size() <= 64 && allOf(id, isIdChar);
}

bool isOwnedLink(const HostLink& link, const OwnedNames& names) {
  if (link.type == "veth") {
    return isTaskVethName(link.name);
  }
  if (link.type == "vxlan") {
    return isDeviceOfVni(link.name, "omvx");
  }
  if (link.type == "bridge") {
    return isDeviceOfVni(link.name, "ombr") ||
           (!names.gatewayBridge.empty() && link.name == names.gatewayBridge);
  }
  return false;
}

std::vector<CleanupStep> planHostCleanup(const HostInventory& inventory, const OwnedNames& names) {
  std::vector<CleanupStep> steps;
  std::set<std::string> tasks(inventory.tasks.begin(), inventory.tasks.end());
  for (const auto& task : tasks) {
    steps.push_back({CleanupKind::Task, task, ""});
  }
  std::set<std::string> namespaces;
  for (const auto& ns : inventory.namespaces) {
    if (isOwnedTaskNamespace(ns, names)) {
      namespaces.insert(ns);
    }
  }
  for (const auto& ns : namespaces) {
    steps.push_back({CleanupKind::Namespace, ns, ""});
  }
  std::set<std::pair<int, std::string>> links;
  for (const auto& link : inventory.links) {
    if (isOwnedLink(link, names)) {
      links.insert({linkRank(link, names), link.name});
    }
  }
  for (const auto& [rank, name] : links) {
    steps.push_back({CleanupKind::Link, name, ""});
  }
  for (const auto& table : ownedHostTables()) {
    if (std::find(inventory.tables.begin(), inventory.tables.end(), table) !=
        inventory.tables.end()) {
      steps.push_back({CleanupKind::Table, table.name, table.family});
    }
  }
  return steps;
}

}  // namespace overmesh::dataplane
