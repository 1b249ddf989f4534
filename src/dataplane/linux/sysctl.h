#pragma once

// Writing IPv4 sysctls of a network namespace (/proc/sys/net/ipv4/...). The kernel picks
// the namespace of the calling *thread* when the file is opened, so a caller inside a
// NamespaceSwitch writes that namespace's values. Needs root (CAP_NET_ADMIN over it).

#include <string_view>

#include "common/error.h"

namespace overmesh::dataplane::kernel {

// Writes `value` to /proc/sys/<key> (key "net/ipv4/ip_forward"). Fails with NotFound when
// the key does not exist (e.g. an interface's conf that is not there), Unavailable when it
// cannot be written; the message names the key and the errno text.
Status writeSysctl(std::string_view key, std::string_view value);

// net.ipv4.ip_forward = 1 in the calling thread's namespace.
Status enableIpv4Forwarding();

// net.ipv4.conf.<device>.rp_filter = 0 ("all" is a device name here): the kernel uses the
// larger of "all" and the device's value, so both must be 0 for a device to accept
// packets whose source it would not route back through it.
Status disableReversePathFilter(std::string_view device);

}  // namespace overmesh::dataplane::kernel
