#pragma once

// The node's own resolvers, read from a resolv.conf: where the embedded resolver forwards
// the names that are not the cluster's. Pure parsing; the server re-reads the file when it
// changes.

#include <string_view>
#include <vector>

#include "common/ip.h"

namespace overmesh::dns {

// At most this many upstreams are used, as glibc does (MAXNS).
inline constexpr std::size_t kMaxUpstreams = 3;

// The first kMaxUpstreams `nameserver` lines holding an IPv4 address, in file order.
// Ignored: comments ('#' or ';'), other keywords, IPv6 or malformed addresses, and
// 127.0.0.11 (ourselves: forwarding there would loop). Never fails: a file with no usable
// line means "no upstream", and unknown names then get SERVFAIL.
std::vector<Ipv4Address> parseResolvConf(std::string_view text);

}  // namespace overmesh::dns
