#pragma once

// Which address ranges an overlay subnet (or a default address pool) must stay out of, and
// the refusal that names the collision. Pure functions: the manager gathers the nodes'
// networks from its store and passes them in.
//
// Two kinds of range:
//  - address classes that never work as an overlay subnet, whatever the hosts: "this
//    network" 0.0.0.0/8, loopback, link-local, multicast and the reserved 240.0.0.0/4
//    (a collision is InvalidArgument: the request can never succeed);
//  - networks the cluster's hosts use: each node's underlay network (the connected prefix
//    of its advertise address) and its gateway-bridge subnet (a collision is Conflict: it
//    depends on the cluster's current members).

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "common/ip.h"

namespace overmesh::ipam {

struct AvoidedRange {
  Ipv4Prefix prefix;
  // For messages, e.g. "the loopback range 127.0.0.0/8" or "the underlay network
  // 198.18.0.0/24 of node h1".
  std::string description;
  bool hostNetwork = false;  // false: an address class; true: a network of cluster hosts
};

// The address classes no overlay subnet may overlap, in address order.
const std::vector<AvoidedRange>& reservedRanges();

// The first of reservedRanges(), then `hostNetworks`, that `subnet` overlaps.
std::optional<AvoidedRange> findCollision(const Ipv4Prefix& subnet,
                                          const std::vector<AvoidedRange>& hostNetworks);

// "<field> <subnet> is in <range>" when the range holds the whole subnet, else
// "<field> <subnet> overlaps <range>".
std::string describeCollision(std::string_view field, const Ipv4Prefix& subnet,
                              const AvoidedRange& range);

// Refuses `subnet` when it collides with a reserved class (InvalidArgument) or a host
// network (Conflict): "<field> <subnet> is in <range>; choose a <noun> outside it, e.g.
// <suggestion>" (the example is left out when there is none).
Status checkAvoided(std::string_view field, std::string_view noun, const Ipv4Prefix& subnet,
                    const std::vector<AvoidedRange>& hostNetworks,
                    const std::optional<Ipv4Prefix>& suggestion);

// The first /`length` block, in `candidates` order then address order, that overlaps
// nothing in `taken`; nullopt when there is none (or `length` is shorter than a candidate's).
// O(n log n) in taken.size().
std::optional<Ipv4Prefix> firstFreeBlock(const std::vector<Ipv4Prefix>& candidates, int length,
                                         std::vector<Ipv4Prefix> taken);

// The private ranges of RFC 1918 (10/8, 172.16/12, 192.168/16): where suggestions for
// pools come from.
const std::vector<Ipv4Prefix>& privateRanges();

}  // namespace overmesh::ipam
