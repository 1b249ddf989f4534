#pragma once

// What the kernel reports about the objects the overlay reconciler manages (links, VXLAN
// parameters, FDB and neighbour entries), as plain values. netlink.h reads them from the
// kernel; overlay_diff.h decides on them without one, so they live outside linux/.

#include <cstdint>
#include <string>

#include "common/ip.h"
#include "common/mac.h"

namespace overmesh::dataplane::kernel {

// What the kernel reports about one link.
struct LinkInfo {
  std::string name;
  int index = 0;
  std::string type;  // IFLA_INFO_KIND: "bridge", "veth", "vxlan"; empty for lo/physical
  unsigned int mtu = 0;
  bool up = false;      // administratively up (IFF_UP)
  int masterIndex = 0;  // the bridge it is enslaved to; 0 = none
  MacAddress mac;       // 00:00:00:00:00:00 for devices without one (lo)
};

// What the kernel reports about a VXLAN device (IFLA_VXLAN_*), enough for a reconciler to
// decide whether an existing device is already right.
struct VxlanInfo {
  std::uint32_t vni = 0;
  Ipv4Address local;       // source address of the outer packets; 0.0.0.0 = unset
  bool learning = false;   // learns remote MACs from received packets
  bool proxy = false;      // answers ARP from the neighbour table
  std::uint16_t port = 0;  // UDP destination port
  unsigned int mtu = 0;
};

// A static FDB entry on a VXLAN device: frames for `mac` are sent to the VTEP `remote`.
struct FdbEntry {
  MacAddress mac;
  Ipv4Address remote;
  auto operator<=>(const FdbEntry&) const = default;
};

// An IPv4 neighbour (ARP) entry. `mac` is 00:00:00:00:00:00 for an entry still being
// resolved; `permanent` marks static entries (NUD_PERMANENT), the only kind overmesh adds.
struct NeighbourEntry {
  Ipv4Address ip;
  MacAddress mac;
  bool permanent = false;
  auto operator<=>(const NeighbourEntry&) const = default;
};

}  // namespace overmesh::dataplane::kernel
