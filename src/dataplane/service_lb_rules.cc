#include "dataplane/service_lb_rules.h"

#include <fmt/format.h>

#include <algorithm>
#include <iterator>
#include <string>

namespace overmesh::dataplane {
namespace {

// The map and the output-chain rule of backend count `count`, as commands.
void appendBackendMap(std::string& script, std::size_t count) {
  fmt::format_to(std::back_inserter(script),
                 "add map {0} {1} {2} {{ typeof ip daddr . numgen random mod {3} : ip daddr; }}\n"
                 "add rule {0} {1} output dnat to ip daddr . numgen random mod {3} map @{2}\n",
                 kLbFamily, kLbTable, lbBackendMapName(count), count);
}

// "add element" or "delete element" of the service's elements (or its `refused` entry).
void appendElements(std::string& script, std::string_view verb, const LbService& service) {
  if (service.backends.empty()) {
    fmt::format_to(std::back_inserter(script), "{} element {} {} refused {{ {} }}\n", verb,
                   kLbFamily, kLbTable, service.vip);
    return;
  }
  fmt::format_to(std::back_inserter(script), "{} element {} {} {} {{ ", verb, kLbFamily, kLbTable,
                 lbBackendMapName(service.backends.size()));
  for (std::size_t slot = 0; slot < service.backends.size(); ++slot) {
    fmt::format_to(std::back_inserter(script), "{}{} . {}", slot == 0 ? "" : ", ", service.vip,
                   slot);
    if (verb == "add") {
      fmt::format_to(std::back_inserter(script), " : {}", service.backends[slot]);
    }
  }
  script += " }\n";
}

}  // namespace

std::string lbBackendMapName(std::size_t backendCount) {
  return fmt::format("backends_{}", backendCount);
}

LbChanges diffSandboxLb(const SandboxLb& applied, const SandboxLb& wanted) {
  LbChanges changes;
  auto old = applied.services.begin();
  auto now = wanted.services.begin();
  while (old != applied.services.end() || now != wanted.services.end()) {
    if (now == wanted.services.end() || (old != applied.services.end() && old->vip < now->vip)) {
      changes.removed.push_back(*old++);
    } else if (old == applied.services.end() || now->vip < old->vip) {
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

std::set<std::size_t> lbBackendCounts(const SandboxLb& lb) {
  std::set<std::size_t> counts;
  for (const auto& service : lb.services) {
    if (!service.backends.empty()) {
      counts.insert(service.backends.size());
    }
  }
  return counts;
}

std::string lbReplaceScript(const SandboxLb& lb) {
  std::string script = fmt::format(
      "table {0} {1} {{}}\n"
      "delete table {0} {1}\n"
      "table {0} {1} {{\n"
      "  set refused {{ type ipv4_addr; }}\n"
      "  chain output {{ type nat hook output priority -100; policy accept; }}\n"
      "}}\n"
      "add rule {0} {1} output ip daddr @refused meta l4proto tcp reject with tcp reset\n"
      "add rule {0} {1} output ip daddr @refused reject\n",
      kLbFamily, kLbTable);
  for (std::size_t count : lbBackendCounts(lb)) {
    appendBackendMap(script, count);
  }
  for (const auto& service : lb.services) {
    appendElements(script, "add", service);
  }
  return script;
}

std::string lbUpdateScript(const LbChanges& changes, std::set<std::size_t>& existingCounts) {
  std::string script;
  auto ensureMap = [&](const LbService& service) {
    std::size_t count = service.backends.size();
    if (count > 0 && existingCounts.insert(count).second) {
      appendBackendMap(script, count);
    }
  };
  // Deletions first: a changed service may move between maps or stay in the same one.
  for (const auto& service : changes.removed) {
    appendElements(script, "delete", service);
  }
  for (const auto& change : changes.changed) {
    appendElements(script, "delete", change.before);
  }
  for (const auto& change : changes.changed) {
    ensureMap(change.after);
    appendElements(script, "add", change.after);
  }
  for (const auto& service : changes.added) {
    ensureMap(service);
    appendElements(script, "add", service);
  }
  return script;
}

std::vector<LbDeparture> lbDepartures(const LbChanges& changes) {
  std::vector<LbDeparture> departures;
  for (const auto& service : changes.removed) {
    for (auto backend : service.backends) {
      departures.push_back({service.vip, backend});
    }
  }
  for (const auto& change : changes.changed) {
    for (auto backend : change.before.backends) {
      // Both lists are sorted, but they are short: a linear search is fine.
      if (std::find(change.after.backends.begin(), change.after.backends.end(), backend) ==
          change.after.backends.end()) {
        departures.push_back({change.after.vip, backend});
      }
    }
  }
  return departures;
}

}  // namespace overmesh::dataplane
