#include "dataplane/underlay_filter_rules.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <nlohmann/json.hpp>
#include <optional>

namespace overmesh::dataplane {
namespace {

// "VERB element inet overmesh_underlay members { A, B }" lines of at most
// kUnderlayElementsPerStatement addresses each.
void appendMemberStatements(std::string& script, std::string_view verb,
                            const std::vector<Ipv4Address>& addresses) {
  for (std::size_t start = 0; start < addresses.size(); start += kUnderlayElementsPerStatement) {
    std::size_t end = std::min(addresses.size(), start + kUnderlayElementsPerStatement);
    fmt::format_to(std::back_inserter(script), "{} element {} {} {} {{ ", verb, kUnderlayFamily,
                   kUnderlayTable, kUnderlayMembersSet);
    for (std::size_t i = start; i < end; ++i) {
      fmt::format_to(std::back_inserter(script), "{}{}", i == start ? "" : ", ",
                     addresses[i].toString());
    }
    script += " }\n";
  }
}

// The two rules (IPv4 from a non-member, any IPv6) that drop `protocol` to `port`.
void appendDropRules(std::string& script, std::string_view protocol, std::uint16_t port,
                     std::string_view counter) {
  fmt::format_to(std::back_inserter(script),
                 "add rule {0} {1} input {2} dport {3} ip saddr != @{4} counter name \"{5}\" drop\n"
                 "add rule {0} {1} input meta nfproto ipv6 {2} dport {3} counter name \"{5}\" "
                 "drop\n",
                 kUnderlayFamily, kUnderlayTable, protocol, port, kUnderlayMembersSet, counter);
}

// The counter named `name` among the objects of a listing; nullopt when absent.
std::optional<std::pair<std::uint64_t, std::uint64_t>> counterIn(const nlohmann::json& items,
                                                                 std::string_view name) {
  for (const auto& item : items) {
    if (!item.is_object()) {
      continue;
    }
    auto counter = item.find("counter");
    if (counter == item.end() || !counter->is_object()) {
      continue;
    }
    auto found = counter->find("name");
    if (found == counter->end() || !found->is_string() || found->get<std::string>() != name) {
      continue;
    }
    auto packets = counter->find("packets");
    auto bytes = counter->find("bytes");
    if (packets == counter->end() || bytes == counter->end() || !packets->is_number_unsigned() ||
        !bytes->is_number_unsigned()) {
      return std::nullopt;
    }
    return std::make_pair(packets->get<std::uint64_t>(), bytes->get<std::uint64_t>());
  }
  return std::nullopt;
}

}  // namespace

std::string underlayReplaceScript(const UnderlayFilterSpec& spec) {
  if (spec.ports.vxlanPort == 0 || spec.ports.nodePort == 0) {
    std::fprintf(stderr, "fatal: underlayReplaceScript: port 0 (vxlan %u, node %u)\n",
                 spec.ports.vxlanPort, spec.ports.nodePort);
    std::abort();
  }
  // Create-then-delete makes the delete succeed whether or not the table exists; the
  // kernel applies the whole batch or none of it.
  std::string script = fmt::format(
      "table {0} {1} {{}}\n"
      "delete table {0} {1}\n"
      "table {0} {1} {{\n"
      "  set {2} {{ type ipv4_addr; }}\n"
      "  counter {3} {{ }}\n"
      "  counter {4} {{ }}\n"
      "  chain input {{ type filter hook input priority {5}; policy accept; }}\n"
      "}}\n",
      kUnderlayFamily, kUnderlayTable, kUnderlayMembersSet, kVxlanDropCounter, kNodePortDropCounter,
      kUnderlayInputPriority);
  appendDropRules(script, "udp", spec.ports.vxlanPort, kVxlanDropCounter);
  appendDropRules(script, "tcp", spec.ports.nodePort, kNodePortDropCounter);
  appendMemberStatements(script, "add",
                         std::vector<Ipv4Address>(spec.members.begin(), spec.members.end()));
  return script;
}

UnderlayMemberChanges diffUnderlayMembers(const std::set<Ipv4Address>& applied,
                                          const std::set<Ipv4Address>& wanted) {
  UnderlayMemberChanges changes;
  std::set_difference(wanted.begin(), wanted.end(), applied.begin(), applied.end(),
                      std::back_inserter(changes.added));
  std::set_difference(applied.begin(), applied.end(), wanted.begin(), wanted.end(),
                      std::back_inserter(changes.removed));
  return changes;
}

std::string underlayMembersScript(const UnderlayMemberChanges& changes) {
  std::string script;
  appendMemberStatements(script, "add", changes.added);
  appendMemberStatements(script, "delete", changes.removed);
  return script;
}

Result<UnderlayDropCounters> parseUnderlayDropCounters(std::string_view listingJson) {
  auto listing = nlohmann::json::parse(listingJson, nullptr, false);
  if (listing.is_discarded() || !listing.is_object() || !listing.contains("nftables") ||
      !listing["nftables"].is_array()) {
    return errorf(ErrorKind::InvalidArgument,
                  "underlay filter: the table listing is not nft JSON ({{\"nftables\": [...]}})");
  }
  const auto& items = listing["nftables"];
  auto vxlan = counterIn(items, kVxlanDropCounter);
  auto nodePort = counterIn(items, kNodePortDropCounter);
  if (!vxlan || !nodePort) {
    return errorf(ErrorKind::InvalidArgument,
                  "underlay filter: table {} {} has no counter \"{}\" with packets and bytes",
                  kUnderlayFamily, kUnderlayTable,
                  vxlan ? kNodePortDropCounter : kVxlanDropCounter);
  }
  return UnderlayDropCounters{vxlan->first, vxlan->second, nodePort->first, nodePort->second};
}

}  // namespace overmesh::dataplane
