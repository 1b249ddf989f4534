#pragma once

// A thin, honest wrapper over libnl-route-3 (iproute2's way of driving the kernel, without
// running `ip`): one route-netlink socket bound to one network namespace, and one method
// per kernel change. Every failure names the operation, the device, the namespace and the
// kernel's error text (nl_geterror), and carries a kind:
//   NotFound       the device does not exist
//   Conflict       it (or the address) already exists
//   InvalidArgument the kernel rejected a value (bad name, MTU out of range)
//   Unavailable    anything else the kernel or the socket reports (EPERM included)
//
// The socket stays bound to the namespace it was opened in, whichever thread later uses
// it. A Netlink is not thread-safe: one per thread, or a mutex around it.
//
// Links, addresses and bridge ports live here today; the overlay data plane (VXLAN
// devices, FDB and neighbour entries, routes) is meant to grow in this same class.

#include <memory>
#include <string>
#include <string_view>

#include "common/error.h"
#include "common/ip.h"

struct nl_sock;

namespace overmesh::dataplane::kernel {

// What the kernel reports about one link.
struct LinkInfo {
  std::string name;
  int index = 0;
  std::string type;  // IFLA_INFO_KIND: "bridge", "veth", "vxlan"; empty for lo/physical
  unsigned int mtu = 0;
  bool up = false;      // administratively up (IFF_UP)
  int masterIndex = 0;  // the bridge it is enslaved to; 0 = none
};

class Netlink {
 public:
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

 private:
  struct SocketDeleter {
    void operator()(nl_sock* sock) const;
  };
  using SocketPtr = std::unique_ptr<nl_sock, SocketDeleter>;

  Netlink(SocketPtr sock, std::string namespaceName);

  // The Error for libnl code `code` (negative NLE_*): "<operation> \"<device>\" in <ns>: text".
  Error error(int code, std::string_view operation, std::string_view device) const;
  // Sets IFF_UP, a master or an MTU: one RTM_NEWLINK change request on `device`.
  struct LinkChange;
  Status changeLink(std::string_view device, const LinkChange& change, std::string_view operation);

  SocketPtr sock_;
  std::string namespaceName_;
};

}  // namespace overmesh::dataplane::kernel
