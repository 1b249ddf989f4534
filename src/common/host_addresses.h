#pragma once

// The host's own IPv4 addresses (read with getifaddrs; nothing is changed), used to
// choose and check the advertise address.

#include <string>
#include <vector>

#include "common/error.h"

namespace overmesh {

// Every IPv4 address on an interface that is up, loopback excluded.
Result<std::vector<std::string>> hostIpv4Addresses();

// The address to advertise: `requested` when it is one of the host's addresses (or
// 127.0.0.1); otherwise the host's only address; 127.0.0.1 when it has none (a
// single-node cluster in an isolated namespace). Several candidates and no request →
// InvalidArgument listing them and asking for --advertise-addr.
Result<std::string> chooseAdvertiseAddress(const std::string& requested);

// The connected prefix (network address and netmask length, e.g. 198.18.0.0/24) of the
// interface that holds `address`, loopback included: the node's underlay network, which
// overlay subnets must not overlap. NotFound when no interface that is up holds it.
Result<std::string> connectedPrefixOf(const std::string& address);

}  // namespace overmesh
