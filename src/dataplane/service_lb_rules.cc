#include "dataplane/service_lb_rules.h"

#include <fmt/format.h>

#include <string>

namespace overmesh::dataplane {
namespace {

// The rules of a service's chain, one "add rule" line each.
void appendServiceRules(std::string& script, const LbService& service) {
  std::string chain = lbChainName(service.vip);
  if (service.backends.empty()) {
    // Refuse at once: a TCP client gets ECONNREFUSED, others an ICMP port unreachable.
    fmt::format_to(std::back_inserter(script),
                   "add rule {0} {1} {2} meta l4proto tcp reject with tcp reset\n"
                   "add rule {0} {1} {2} reject\n",
                   kLbFamily, kLbTable, chain);
    return;
  }
  if (service.backends.size() == 1) {
    fmt::format_to(std::back_inserter(script), "add rule {} {} {} dnat to {}\n", kLbFamily,
                   kLbTable, chain, service.backends.front());
    return;
  }
  fmt::format_to(std::back_inserter(script), "add rule {} {} {} dnat to numgen random mod {} map {{ ",
                 kLbFamily, kLbTable, chain, service.backends.size());
  for (std::size_t i = 0; i < service.backends.size(); ++i) {
    fmt::format_to(std::back_inserter(script), "{}{} : {}", i == 0 ? "" : ", ", i,
                   service.backends[i]);
  }
  script += " }\n";
}

void appendAddService(std::string& script, const LbService& service) {
  std::string chain = lbChainName(service.vip);
  fmt::format_to(std::back_inserter(script), "add chain {} {} {}\n", kLbFamily, kLbTable, chain);
  appendServiceRules(script, service);
  fmt::format_to(std::back_inserter(script), "add element {} {} vips {{ {} : goto {} }}\n",
                 kLbFamily, kLbTable, service.vip, chain);
}

}  // namespace

std::string lbChainName(Ipv4Address vip) {
  std::uint32_t value = vip.value();
  return fmt::format("svc_{}_{}_{}_{}", value >> 24, (value >> 16) & 0xff, (value >> 8) & 0xff,
                     value & 0xff);
}

LbChanges diffSandboxLb(const SandboxLb& applied, const SandboxLb& wanted) {
  LbChanges changes;
  auto old = applied.services.begin();
  auto now = wanted.services.begin();
  while (old != applied.services.end() || now != wanted.services.end()) {
    if (now == wanted.services.end() ||
        (old != applied.services.end() && old->vip < now->vip)) {
      changes.removed.push_back(*old++);
    } else if (old == applied.services.end() || now->vip < old->vip) {
      changes.added.push_back(*now++);
    } else {
      if (old->backends != now->backends) {
        changes.changed.push_back(*now);
      }
      ++old;
      ++now;
    }
  }
  return changes;
}

std::string lbReplaceScript(const SandboxLb& lb) {
  std::string script = fmt::format(
      "table {0} {1} {{}}\n"
      "delete table {0} {1}\n"
      "table {0} {1} {{\n"
      "  map vips {{ type ipv4_addr : verdict; }}\n"
      "  chain output {{ type nat hook output priority -100; policy accept; "
      "ip daddr vmap @vips; }}\n"
      "}}\n",
      kLbFamily, kLbTable);
  for (const auto& service : lb.services) {
    appendAddService(script, service);
  }
  return script;
}

std::string lbUpdateScript(const LbChanges& changes) {
  std::string script;
  for (const auto& service : changes.removed) {
    // The element first: a chain still referenced by the map cannot be deleted.
    std::string chain = lbChainName(service.vip);
    fmt::format_to(std::back_inserter(script),
                   "delete element {0} {1} vips {{ {2} }}\n"
                   "flush chain {0} {1} {3}\n"
                   "delete chain {0} {1} {3}\n",
                   kLbFamily, kLbTable, service.vip, chain);
  }
  for (const auto& service : changes.changed) {
    fmt::format_to(std::back_inserter(script), "flush chain {} {} {}\n", kLbFamily, kLbTable,
                   lbChainName(service.vip));
    appendServiceRules(script, service);
  }
  for (const auto& service : changes.added) {
    appendAddService(script, service);
  }
  return script;
}

}  // namespace overmesh::dataplane
