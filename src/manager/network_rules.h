#pragma once

// Pure validation of a network create request, before any allocation: name, driver,
// labels and options. Separate from NetworkManager so it is tested without a Store.

#include <cstdint>
#include <string>
#include <vector>

#include "api/types.h"
#include "common/error.h"
#include "ipam/ipam.h"
#include "ipam/subnet_rules.h"

namespace overmesh::manager {

// Docker's rule for object names: a letter or digit, then letters, digits, '_', '.', '-';
// at most 63 characters so that derived kernel names stay short.
Status validateObjectName(std::string_view kind, const std::string& name);

// Fails with InvalidArgument naming the field, the value and what is valid.
Status validateNetworkCreate(const api::NetworkCreateRequest& request);

// A network option (`network create -o KEY=VALUE`, compose `driver_opts`): only
// api::kNetworkMtuOption, a whole number in [kMinNetworkMtu, kMaxNetworkMtu]; `encrypted`
// and anything else are refused with the reason.
inline constexpr std::int64_t kMinNetworkMtu = 576;
inline constexpr std::int64_t kMaxNetworkMtu = 9000;
Status validateNetworkOption(const std::string& key, const std::string& value);

// The networks the members' hosts use, which no overlay subnet may overlap: each distinct
// underlay prefix and gateway-bridge subnet once, naming the nodes that use it. Nodes
// whose record does not carry them (written by an older version) add nothing. Hostnames
// are listed in order.
std::vector<ipam::AvoidedRange> hostNetworksOf(const std::vector<api::Node>& nodes);

// The reverse check at join: a node whose underlay network or gateway-bridge subnet
// overlaps an existing network's subnet cannot reach that network's tasks (or its own
// underlay). Conflict naming the network and what to change; InvalidArgument when a
// prefix does not parse.
Status checkJoiningNode(const std::string& underlayPrefix, const std::string& advertiseAddress,
                        const std::string& gatewaySubnet,
                        const std::vector<ipam::ExistingNetwork>& networks);

}  // namespace overmesh::manager
