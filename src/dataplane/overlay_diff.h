#pragma once

// The overlay reconciler's decisions, without a kernel: given one network's plan
// (overlay_plan.h) and what the kernel reports for its devices, which device changes and
// which FDB / neighbour entry adds and removes make the kernel match the plan. The Linux
// reconciler (linux/overlay_reconciler.h) observes, calls these and applies the result;
// tests call them directly. When the kernel already matches, the changes are empty: a
// restarted agent reprograms nothing.

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "common/ip.h"
#include "common/mac.h"
#include "dataplane/kernel_objects.h"
#include "dataplane/overlay_plan.h"

namespace overmesh::dataplane {

// What the kernel has for one network's devices. Missing devices are nullopt; the entry
// lists are those of the VXLAN device (empty when it is missing).
struct ObservedNetwork {
  std::optional<kernel::LinkInfo> bridge;
  std::optional<kernel::LinkInfo> vxlan;
  // The VXLAN device's parameters; nullopt when it is missing or not a VXLAN device.
  std::optional<kernel::VxlanInfo> vxlanParameters;
  std::vector<kernel::FdbEntry> fdb;               // static entries with a remote VTEP
  std::vector<kernel::NeighbourEntry> neighbours;  // permanent and learnt
  std::vector<MacAddress> learned;                 // learned by the bridge behind the VXLAN
  std::vector<Ipv4Prefix> bridgeAddresses;         // the bridge's IPv4 addresses
};

// One change to a device. Its parameters come from the network's plan: a bridge or VXLAN
// device is created with the plan's MTU (a VXLAN device also with its VNI, the node's
// address and kVxlanPort, learning off, proxy on), SetMaster puts the VXLAN device on the
// plan's bridge. SetMac gives the bridge macForIp(plan.hostAddress); AddAddress and
// DeleteAddress add or remove `address` on the bridge (the node's ingress endpoint).
struct LinkChange {
  enum class Action {
    CreateBridge,
    CreateVxlan,
    Delete,
    SetMtu,
    SetMaster,
    SetUp,
    SetMac,
    AddAddress,
    DeleteAddress
  };
  Action action = Action::SetUp;
  std::string device;
  Ipv4Prefix address{};  // AddAddress / DeleteAddress only
  auto operator<=>(const LinkChange&) const = default;
};

// Entry changes on one VXLAN device. Applied removes first: a remote that moved (same
// MAC, new VTEP) must lose its old entry before it gets the new one.
struct PeerChanges {
  std::vector<kernel::FdbEntry> fdbToRemove;
  std::vector<Ipv4Address> neighboursToRemove;  // permanent entries only; learnt ones age out
  std::vector<MacAddress> learnedToRemove;      // learned entries of endpoints that are gone
  std::vector<kernel::FdbEntry> fdbToAdd;
  std::vector<kernel::NeighbourEntry> neighboursToAdd;  // permanent

  std::size_t removals() const;
  std::size_t additions() const;
};

struct NetworkChanges {
  std::vector<LinkChange> links;  // in the order they must be applied
  PeerChanges peers;

  bool empty() const { return links.empty() && peers.removals() + peers.additions() == 0; }
};

// The changes that make one network's devices and entries match `plan`. `local` is the
// node's advertise address (the VXLAN source). A VXLAN device with other parameters is
// deleted and created again (with it go its entries, so all of the plan's are added).
NetworkChanges diffNetwork(const NetworkPlan& plan, const ObservedNetwork& observed,
                           Ipv4Address local);

// Our devices (bridges "ombr…", VXLAN "omvx…") among `links` that no plan wants, in
// `links` order: the devices of networks that have no local task any more.
std::vector<std::string> staleDevices(const std::vector<NetworkPlan>& plans,
                                      const std::vector<kernel::LinkInfo>& links);

// What applying the overlay did, for logs and tests.
struct OverlayApplyReport {
  int devicesCreated = 0;
  int devicesRemoved = 0;
  int entriesAdded = 0;
  int entriesRemoved = 0;
  std::vector<std::string> problems;  // per-network failures; other networks still applied
  // The kernel could not be asked at all (no netlink socket): nothing was applied, and the
  // agent should not start tasks on this pass (their wiring would fail the same way).
  bool kernelUnavailable = false;

  int mutations() const { return devicesCreated + devicesRemoved + entriesAdded + entriesRemoved; }
};

}  // namespace overmesh::dataplane
