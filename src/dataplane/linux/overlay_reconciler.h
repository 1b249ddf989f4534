#pragma once

// Applies the overlay part of a NodePlan to the node's namespace: for each network with
// a local task a bridge and a VXLAN device (learning off, ARP proxy on), and on the VXLAN
// device exactly the wanted static FDB entries (remote MAC -> remote VTEP) and permanent
// neighbour entries (remote IP -> MAC). For each network it reads what the kernel has,
// asks diffNetwork() (overlay_diff.h, pure) what to change and applies only that, so
// re-applying the same plan changes nothing: a restarted agent keeps devices that are
// right and never interrupts traffic. Devices of networks without a local task are
// removed. Bridges carry no address, so the host namespace never routes an overlay subnet,
// except the ingress network's, which holds the node's own endpoint (NetworkPlan::
// hostAddress, with MAC macForIp of it): its connected route is how the node reaches the
// backends of published ports.

#include <vector>

#include "common/ip.h"
#include "dataplane/linux/netlink.h"
#include "dataplane/overlay_diff.h"
#include "dataplane/overlay_plan.h"

namespace overmesh::dataplane::kernel {

// `local` is the node's advertise (underlay) address, the VXLAN source. A failure on one
// network is reported in `problems` and the others are still applied.
OverlayApplyReport applyOverlay(Netlink& host, const std::vector<NetworkPlan>& networks,
                                Ipv4Address local);

// What the kernel has for `plan`'s devices (exposed for the kernel tests).
Result<ObservedNetwork> observeNetwork(Netlink& host, const NetworkPlan& plan);

}  // namespace overmesh::dataplane::kernel
