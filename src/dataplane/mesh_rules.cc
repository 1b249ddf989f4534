#include "dataplane/mesh_rules.h"

#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <tuple>

#include "dataplane/gateway_nat.h"

namespace overmesh::dataplane {
namespace {

auto meshPortKey(const MeshPort& port) { return std::tie(port.protocol, port.publishedPort); }

// The map of backend count `count` and its rule in the publish chain.
void appendMeshBackendMap(std::string& script, std::size_t count) {
  fmt::format_to(std::back_inserter(script),
                 "add map {0} {1} {2} {{ typeof meta l4proto . th dport . numgen random mod {3} : "
                 "ip daddr . th dport; }}\n"
                 "add rule {0} {1} publish dnat to meta l4proto . th dport . numgen random mod "
                 "{3} map @{2}\n",
                 kMeshFamily, kMeshTable, meshBackendMapName(count), count);
}

// "add element" or "delete element" of the port's elements (or its `refused` entry).
void appendMeshElements(std::string& script, std::string_view verb, const MeshPort& port) {
  if (port.protocol != "tcp" && port.protocol != "udp") {
    std::fprintf(stderr, "fatal: mesh rules: protocol \"%s\" of port %u is neither tcp nor udp\n",
                 port.protocol.c_str(), port.publishedPort);
    std::abort();
  }
  if (port.backends.empty()) {
    fmt::format_to(std::back_inserter(script), "{} element {} {} refused {{ {} . {} }}\n", verb,
                   kMeshFamily, kMeshTable, port.protocol, port.publishedPort);
    return;
  }
  fmt::format_to(std::back_inserter(script), "{} element {} {} {} {{ ", verb, kMeshFamily,
                 kMeshTable, meshBackendMapName(port.backends.size()));
  for (std::size_t slot = 0; slot < port.backends.size(); ++slot) {
    fmt::format_to(std::back_inserter(script), "{}{} . {} . {}", slot == 0 ? "" : ", ",
                   port.protocol, port.publishedPort, slot);
    if (verb == "add") {
      fmt::format_to(std::back_inserter(script), " : {} . {}", port.backends[slot].address,
                     port.backends[slot].port);
    }
  }
  script += " }\n";
}

}  // namespace

std::string meshBackendMapName(std::size_t backendCount) {
  return fmt::format("backends_{}", backendCount);
}

MeshChanges diffNodeMesh(const NodeMesh& applied, const NodeMesh& wanted) {
  MeshChanges changes;
  changes.rulesChanged = applied.ingressBridge != wanted.ingressBridge;
  auto old = applied.ports.begin();
  auto now = wanted.ports.begin();
  while (old != applied.ports.end() || now != wanted.ports.end()) {
    if (now == wanted.ports.end() ||
        (old != applied.ports.end() && meshPortKey(*old) < meshPortKey(*now))) {
      changes.removed.push_back(*old++);
    } else if (old == applied.ports.end() || meshPortKey(*now) < meshPortKey(*old)) {
      changes.added.push_back(*now++);
    } else {
      if (old->backends != now->backends) {
        changes.changed.push_back({*old, *now});
      }
      ++old;
      ++now;
    }
  }
  return changes;
}

std::set<std::size_t> meshBackendCounts(const NodeMesh& mesh) {
  std::set<std::size_t> counts;
  for (const auto& port : mesh.ports) {
    if (!port.backends.empty()) {
      counts.insert(port.backends.size());
    }
  }
  return counts;
}

std::string meshReplaceScript(const NodeMesh& mesh) {
  if (!mesh.ingressBridge.empty() && !isPlainDeviceName(mesh.ingressBridge)) {
    std::fprintf(stderr, "fatal: meshReplaceScript: \"%s\" is not a valid bridge name\n",
                 mesh.ingressBridge.c_str());
    std::abort();
  }
  // nft 1.0.6 knows no "dstnat" priority in a nat output chain: -100 is its value.
  std::string script = fmt::format(
      "table {0} {1} {{}}\n"
      "delete table {0} {1}\n"
      "table {0} {1} {{\n"
      "  set refused {{ typeof meta l4proto . th dport; }}\n"
      "  chain prerouting {{ type nat hook prerouting priority dstnat; policy accept; }}\n"
      "  chain output {{ type nat hook output priority -100; policy accept; }}\n"
      "  chain publish {{ }}\n"
      "  chain input {{ type filter hook input priority filter; policy accept; }}\n"
      "  chain forward {{ type filter hook forward priority filter; policy accept; }}\n"
      "}}\n",
      kMeshFamily, kMeshTable);
  auto rule = [&](std::string_view chain, std::string_view text) {
    fmt::format_to(std::back_inserter(script), "add rule {} {} {} {}\n", kMeshFamily, kMeshTable,
                   chain, text);
  };
  if (!mesh.ingressBridge.empty()) {
    rule("prerouting", fmt::format("iifname \"{}\" return", mesh.ingressBridge));
  }
  rule("prerouting", "fib daddr type local jump publish");
  rule("output", "ip daddr 127.0.0.0/8 return");
  rule("output", "fib daddr type local jump publish");
  if (!mesh.ingressBridge.empty()) {
    rule("input", fmt::format("iifname \"{}\" ct state new drop", mesh.ingressBridge));
    // Nor through the node: a task that routes the node's other networks (the gateway
    // bridge's tasks, the underlay) via the node's ingress address must not reach them.
    // Traffic bridged between the ingress bridge's own ports (which br_netfilter shows
    // here with the bridge as both ends) is the overlay itself and passes.
    rule("forward", fmt::format("iifname \"{0}\" oifname != \"{0}\" ct state new drop",
                                mesh.ingressBridge));
  }
  // Only new connections: a reply to one of the node's own connections whose local
  // (ephemeral) port equals a refused published port must still get through.
  rule("input",
       "ip daddr != 127.0.0.0/8 ct state new meta l4proto . th dport @refused meta l4proto tcp "
       "reject with tcp reset");
  rule("input", "ip daddr != 127.0.0.0/8 ct state new meta l4proto . th dport @refused reject");
  for (std::size_t count : meshBackendCounts(mesh)) {
    appendMeshBackendMap(script, count);
  }
  for (const auto& port : mesh.ports) {
    appendMeshElements(script, "add", port);
  }
  return script;
}

std::string meshUpdateScript(const MeshChanges& changes, std::set<std::size_t>& existingCounts) {
  std::string script;
  auto ensureMap = [&](const MeshPort& port) {
    std::size_t count = port.backends.size();
    if (count > 0 && existingCounts.insert(count).second) {
      appendMeshBackendMap(script, count);
    }
  };
  // Deletions first: a changed port may move between maps or stay in the same one.
  for (const auto& port : changes.removed) {
    appendMeshElements(script, "delete", port);
  }
  for (const auto& change : changes.changed) {
    appendMeshElements(script, "delete", change.before);
  }
  for (const auto& change : changes.changed) {
    ensureMap(change.after);
    appendMeshElements(script, "add", change.after);
  }
  for (const auto& port : changes.added) {
    ensureMap(port);
    appendMeshElements(script, "add", port);
  }
  return script;
}

}  // namespace overmesh::dataplane
