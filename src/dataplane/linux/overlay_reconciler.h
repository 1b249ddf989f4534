#pragma once

// Applies the overlay part of a NodePlan to the node's namespace: for each network with
// a local task a bridge and a VXLAN device (learning off, ARP proxy on), and on the VXLAN
// device exactly the wanted static FDB entries (remote MAC -> remote VTEP) and permanent
// neighbour entries (remote IP -> MAC). Everything is diffed against what the kernel
// has, so re-applying the same plan changes nothing: a restarted agent keeps devices
// that are right and never interrupts traffic. Devices of networks without a local task
// are removed. Bridges carry no address, so the host namespace never routes an overlay
// subnet.

#include <string>
#include <vector>

#include "common/error.h"
#include "common/ip.h"
#include "dataplane/linux/netlink.h"
#include "dataplane/overlay_plan.h"

namespace overmesh::dataplane::kernel {

struct OverlayApplyReport {
  int devicesCreated = 0;
  int devicesRemoved = 0;
  int entriesAdded = 0;
  int entriesRemoved = 0;
  std::vector<std::string> problems;  // per-network failures; other networks still applied
};

// `local` is the node's advertise (underlay) address, the VXLAN source.
OverlayApplyReport applyOverlay(Netlink& host, const std::vector<NetworkPlan>& networks,
                                Ipv4Address local);

}  // namespace overmesh::dataplane::kernel
