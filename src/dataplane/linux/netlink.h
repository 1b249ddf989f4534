#pragma once

// A thin, honest wrapper over libnl-route-3 (iproute2's way of driving the kernel, without
// running `ip`): one route-netlink socket bound to one network namespace, and one method
// per kernel change. Every failure names the operation, the device, the namespace and the
// kernel's error text (nl_geterror; the errno text where libnl only says "Unspecific
// failure"), followed by the kernel's own explanation in parentheses when it sends one
// (extended ack: "mtu less than device minimum"), and carries a kind:
//   NotFound        the device does not exist
//   Conflict        it (or the address) already exists
//   InvalidArgument the kernel rejected a value (bad name, MTU out of range, unreachable
//                   gateway, multicast MAC)
//   Unavailable     anything else the kernel or the socket reports (EPERM included)
//
// The socket stays bound to the namespace it was opened in, whichever thread later uses
// it. A Netlink is not thread-safe: one per thread, or a mutex around it.
//
// The methods are spread over netlink.cc (socket, links, VXLAN devices),
// netlink_addresses.cc, netlink_neighbours.cc (FDB and neighbour entries) and
// netlink_routes.cc; one class, one socket.
//
// "Replace semantics" below means NLM_F_CREATE|NLM_F_REPLACE: adding what is already there
// succeeds and changes nothing, adding over a different value overwrites it. Deleting what
// is not there succeeds. Both make a reconciler's retries harmless.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "common/ip.h"
#include "common/mac.h"
#include "dataplane/kernel_objects.h"

struct nl_sock;
struct nl_msg;
struct nlmsghdr;

namespace overmesh::dataplane::kernel::netlink_internal {
struct BridgeFdbRecord;
}  // namespace overmesh::dataplane::kernel::netlink_internal

namespace overmesh::dataplane::kernel {

namespace netlink_internal {
struct KernelError;
}

// The kernel's main routing table (RT_TABLE_MAIN).
inline constexpr std::uint32_t kMainRouteTable = 254;

// An IPv4 policy rule whose action is "lookup `table`" (`ip rule add priority P [fwmark M]
// [ipproto udp sport S] lookup T [suppress_prefixlength N]`). Zero / -1 fields match
// anything; a mark is matched with an all-ones mask.
struct PolicyRule {
  std::uint32_t priority = 0;
  std::uint32_t table = 0;
  std::uint32_t fwmark = 0;       // 0: any packet
  std::uint8_t ipProtocol = 0;    // IPPROTO_UDP…; 0: any
  std::uint16_t sourcePort = 0;   // with ipProtocol; 0: any
  int suppressPrefixLength = -1;  // a route this short or shorter is ignored; -1: none
  auto operator<=>(const PolicyRule&) const = default;
};

// An IPv4 unicast route of one routing table (the main table unless said otherwise). The
// default route is 0.0.0.0/0.
struct RouteEntry {
  Ipv4Prefix destination;
  std::optional<Ipv4Address> gateway;  // none: on-link
  std::string device;                  // empty when the kernel reports no output device
  auto operator<=>(const RouteEntry&) const = default;
};

// An IPv4 address on a device: the address with its on-link prefix length (10.0.15.2/24).
struct AddressEntry {
  std::string device;
  Ipv4Prefix address;
  auto operator<=>(const AddressEntry&) const = default;
};

class Netlink {
 public:
  // The largest VXLAN network identifier (24 bits).
  static constexpr std::uint32_t kMaxVni = 0xffffff;

  // Opens a route-netlink socket inside the named namespace (/run/netns/<name>), or in the
  // calling thread's current namespace when `namespaceName` is empty. Fails with NotFound
  // when the namespace does not exist, Unavailable when the socket cannot be opened.
  static Result<Netlink> open(std::string_view namespaceName);

  ~Netlink();
  Netlink(Netlink&&) noexcept;
  Netlink& operator=(Netlink&&) noexcept;
  Netlink(const Netlink&) = delete;
  Netlink& operator=(const Netlink&) = delete;

  // The namespace the socket is bound to; empty = the one it was opened in unnamed.
  const std::string& namespaceName() const { return namespaceName_; }

  // Creates a bridge `name` with the given MTU, down. Conflict when the name is taken.
  Status createBridge(std::string_view name, unsigned int mtu);

  // Creates a veth pair: `name` in this namespace and `peerName` in the namespace behind
  // `peerNamespaceFd` (-1: this namespace too), both with `mtu`, both down. Creating the
  // peer directly in its namespace means no name clash here (every host's peer can be
  // "eth0"). Conflict when either name is taken in its namespace.
  Status createVethPair(std::string_view name, std::string_view peerName, int peerNamespaceFd,
                        unsigned int mtu);

  // Enslaves `device` to the bridge `bridge`. NotFound when either is missing.
  Status setMaster(std::string_view device, std::string_view bridge);

  // Sets `device` administratively up. NotFound when it is missing.
  Status setUp(std::string_view device);

  // Sets the MTU of `device`. InvalidArgument when the kernel refuses the value.
  Status setMtu(std::string_view device, unsigned int mtu);

  // Sets the Ethernet address of `device` (tasks get macForIp of their address).
  // InvalidArgument when the kernel refuses it (a multicast address).
  Status setMacAddress(std::string_view device, const MacAddress& mac);

  // Adds `address` (host bits give the address, the length the on-link prefix:
  // 198.18.0.1/24) to `device`. Conflict when the device already has that address.
  Status addAddress(std::string_view device, const Ipv4Prefix& address);

  // Deletes `device` (and, for a veth, its peer). Succeeds when it does not exist.
  Status deleteLink(std::string_view device);

  // The kernel's ifindex of `device`; NotFound when it does not exist.
  Result<int> linkIndex(std::string_view device);

  // True if `device` exists; fails only when the kernel cannot be asked.
  Result<bool> linkExists(std::string_view device);

  // What the kernel reports about `device`; NotFound when it does not exist.
  Result<LinkInfo> link(std::string_view device);

  // Every link of the namespace, in ifindex order.
  Result<std::vector<LinkInfo>> listLinks();

  // Sets `device` administratively down. NotFound when it is missing.
  Status setDown(std::string_view device);

  // Moves `device` into the namespace behind `namespaceFd` (it keeps its name and goes
  // down, as the kernel does). NotFound when it is missing here, Conflict when the target
  // namespace has a device of that name.
  Status moveToNamespace(std::string_view device, int namespaceFd);

  // ---- VXLAN devices (netlink.cc) ----

  // Creates the VXLAN device `name`, down: VNI `vni` (0-16777215), outer source `local`
  // (0.0.0.0: unset), UDP destination port `dstPort` (non-zero; the IANA port is 4789),
  // learning off and ARP proxy on, no remote and no multicast group (peers come only from
  // static FDB entries), not bound to an underlay device, MTU `mtu`. Conflict when the
  // name is taken (whatever its kind); InvalidArgument for a VNI or port out of range.
  Status createVxlan(std::string_view name, std::uint32_t vni, Ipv4Address local,
                     std::uint16_t dstPort, unsigned int mtu);

  // The VXLAN parameters of `name`. NotFound when it does not exist, InvalidArgument when
  // it is not a VXLAN device.
  Result<VxlanInfo> vxlanInfo(std::string_view name);

  // ---- FDB entries on a VXLAN device (netlink_neighbours.cc) ----

  // Adds the static entry `mac` -> `remoteVtep` on the VXLAN device `device` (what
  // `bridge fdb replace MAC dev DEVICE dst VTEP self permanent` does), replace semantics:
  // a MAC has one VTEP, re-adding moves it. NotFound when the device is missing,
  // InvalidArgument when it is not a VXLAN device.
  Status addFdbEntry(std::string_view device, const MacAddress& mac, Ipv4Address remoteVtep);

  // Deletes the entry `mac` -> `remoteVtep`. Succeeds when it is not there (also when the
  // MAC points at another VTEP, which is left alone). NotFound when the device is missing.
  Status deleteFdbEntry(std::string_view device, const MacAddress& mac, Ipv4Address remoteVtep);

  // The entries of `device` that have a remote VTEP, i.e. the static ones overmesh adds;
  // the bridge's own entries and the device's local addresses are left out. Sorted.
  // NotFound when the device is missing.
  Result<std::vector<FdbEntry>> listFdbEntries(std::string_view device);

  // The MACs the bridge above `device` learned behind it (NTF_MASTER, not permanent).
  // A removed remote's MAC stays there until it ages out, so the overlay reconciler
  // deletes those of endpoints that are gone.
  Result<std::vector<MacAddress>> listLearnedFdbEntries(std::string_view device);
  // Deletes one learned entry; a missing one is fine.
  Status deleteLearnedFdbEntry(std::string_view device, const MacAddress& mac);

  // ---- IPv4 neighbour entries (netlink_neighbours.cc) ----

  // Adds the permanent entry `ip` -> `mac` on `device`, replace semantics. NotFound when
  // the device is missing.
  Status addNeighbour(std::string_view device, Ipv4Address ip, const MacAddress& mac);

  // Deletes the entry for `ip` on `device`; succeeds when there is none. NotFound when the
  // device is missing.
  Status deleteNeighbour(std::string_view device, Ipv4Address ip);

  // The IPv4 neighbour entries of `device`, permanent or learnt, sorted by address.
  // NotFound when the device is missing.
  Result<std::vector<NeighbourEntry>> listNeighbours(std::string_view device);

  // ---- IPv4 routes of the main table (netlink_routes.cc) ----

  // Adds the route to `destination` (0.0.0.0/0: the default route) through `gateway` on
  // `device`, replace semantics: one route per destination, re-adding overwrites its
  // gateway and device. Without a gateway the route is on-link (scope link) and a device
  // is required; with one, `device` may be empty and the kernel picks it. NotFound when
  // the device is missing, InvalidArgument when the kernel refuses the next hop (a gateway
  // that is not on-link), a destination with host bits set or no device for an on-link
  // route.
  // `table` (1-2^32-1, not 255, the local table) is where the route goes.
  Status addRoute(const Ipv4Prefix& destination, std::optional<Ipv4Address> gateway,
                  std::string_view device, std::uint32_t table = kMainRouteTable);

  // Deletes the route to `destination` in `table`, whatever its next hop; succeeds when
  // there is none.
  Status deleteRoute(const Ipv4Prefix& destination, std::uint32_t table = kMainRouteTable);

  // The IPv4 unicast routes of `table` (the kernel's on-link subnet routes included in the
  // main table), sorted. Multipath routes are listed without gateway and device.
  Result<std::vector<RouteEntry>> listRoutes(std::uint32_t table = kMainRouteTable);

  // ---- IPv4 policy rules (netlink_rules.cc) ----

  // Adds `rule`. Succeeds when an identical rule is already there (the kernel would
  // otherwise keep duplicates). InvalidArgument for table 0 or 255 (local).
  Status addRule(const PolicyRule& rule);

  // Deletes `rule`; succeeds when there is none.
  Status deleteRule(const PolicyRule& rule);

  // The IPv4 rules whose action is a table lookup, the kernel's own (local, main, default)
  // included, sorted.
  Result<std::vector<PolicyRule>> listRules();

  // ---- IPv4 addresses (netlink_addresses.cc; addAddress above) ----

  // The IPv4 addresses of `device`, or of every device when `device` is empty, sorted.
  // NotFound when a named device is missing.
  Result<std::vector<AddressEntry>> listAddresses(std::string_view device = "");

  // Deletes `address` (address and prefix length as added) from `device`; succeeds when
  // the device does not have it. NotFound when the device is missing.
  Status deleteAddress(std::string_view device, const Ipv4Prefix& address);

 private:
  struct SocketDeleter {
    void operator()(nl_sock* sock) const;
  };
  using SocketPtr = std::unique_ptr<nl_sock, SocketDeleter>;

  Netlink(SocketPtr sock, std::string namespaceName,
          std::unique_ptr<netlink_internal::KernelError> kernelError);

  // The Error for libnl code `code` (negative NLE_*): "<operation> \"<object>\" in <ns>: text".
  // `object` is usually a device; for routes it is the destination.
  Error error(int code, std::string_view operation, std::string_view object) const;
  // "namespace \"<name>\"", or "the current namespace", for messages.
  std::string where() const;
  // Sets or clears IFF_UP, a master, an MTU or the namespace: one change request on `device`.
  struct LinkChange;
  Status changeLink(std::string_view device, const LinkChange& change, std::string_view operation);

  // Sends `message` (a request built by the caller; it keeps ownership) and waits for the
  // kernel's acknowledgement. Returns 0 or a negative NLE_* code.
  int sendRequest(nl_msg* message);

  // Sends a dump request of `type` whose payload is the family header `header`, and calls
  // `onMessage` for each answer. A dump the kernel reports as interrupted (the table
  // changed meanwhile) is retried a few times, calling `onRestart` before each retry so
  // the caller can drop what it collected. Returns 0 or a negative NLE_* code.
  int dump(int type, const void* header, std::size_t headerSize,
           const std::function<void(nlmsghdr*)>& onMessage, const std::function<void()>& onRestart);

  // Every AF_BRIDGE FDB record on `device` (its own table and its bridge's), for the
  // listFdbEntries / listLearnedFdbEntries filters.
  Result<std::vector<netlink_internal::BridgeFdbRecord>> dumpBridgeFdb(std::string_view device,
                                                                       std::string_view what);

  SocketPtr sock_;
  std::string namespaceName_;
  // The kernel's last error answer on this socket (errno and extended-ack text), captured
  // by the socket's error callback so that messages quote the kernel's own words. On the
  // heap so that its address, given to libnl, survives moves of the Netlink.
  std::unique_ptr<netlink_internal::KernelError> kernelError_;
};

}  // namespace overmesh::dataplane::kernel
