#pragma once

// Private to the Netlink implementation (netlink*.cc): RAII owners for libnl objects,
// error classification and the byte conversions the raw messages need. Not for other code.

#include <arpa/inet.h>
#include <linux/netlink.h>
#include <netlink/addr.h>
#include <netlink/attr.h>
#include <netlink/cache.h>
#include <netlink/errno.h>
#include <netlink/handlers.h>
#include <netlink/msg.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/error.h"
#include "common/ip.h"
#include "common/mac.h"

namespace overmesh::dataplane::kernel::netlink_internal {

// Each libnl allocation has exactly one owner, so an early return cannot leak a reference.
struct LinkDeleter {
  void operator()(rtnl_link* link) const { rtnl_link_put(link); }
};
using LinkPtr = std::unique_ptr<rtnl_link, LinkDeleter>;

// A veth link object holds its peer and the peer holds it back; only
// rtnl_link_veth_release() breaks that cycle.
struct VethDeleter {
  void operator()(rtnl_link* link) const { rtnl_link_veth_release(link); }
};
using VethPtr = std::unique_ptr<rtnl_link, VethDeleter>;

struct AddrDeleter {
  void operator()(rtnl_addr* addr) const { rtnl_addr_put(addr); }
};
using AddrPtr = std::unique_ptr<rtnl_addr, AddrDeleter>;

struct NlAddrDeleter {
  void operator()(nl_addr* addr) const { nl_addr_put(addr); }
};
using NlAddrPtr = std::unique_ptr<nl_addr, NlAddrDeleter>;

struct MsgDeleter {
  void operator()(nl_msg* msg) const { nlmsg_free(msg); }
};
using MsgPtr = std::unique_ptr<nl_msg, MsgDeleter>;

struct CacheDeleter {
  void operator()(nl_cache* cache) const { nl_cache_free(cache); }
};
using CachePtr = std::unique_ptr<nl_cache, CacheDeleter>;

struct CallbackDeleter {
  void operator()(nl_cb* cb) const { nl_cb_put(cb); }
};
using CallbackPtr = std::unique_ptr<nl_cb, CallbackDeleter>;

// The kernel's last error answer on a socket: filled by the socket's error callback,
// consumed by Netlink::error().
struct KernelError {
  int sysErrno = 0;     // positive errno of the last error answer; 0 = none pending
  std::string message;  // the kernel's extended-ack text for it, if it sent one

  void clear() {
    sysErrno = 0;
    message.clear();
  }
  // Records the error answer `answer` (its errno and NLMSGERR_ATTR_MSG, if any).
  void record(const nlmsgerr* answer);
};

// The kind of a libnl error code (negative NLE_*).
inline ErrorKind kindOf(int code) {
  switch (code < 0 ? -code : code) {
    case NLE_OBJ_NOTFOUND:
    case NLE_NODEV:
      return ErrorKind::NotFound;
    case NLE_EXIST:
    case NLE_BUSY:
      return ErrorKind::Conflict;
    case NLE_INVAL:
    case NLE_RANGE:
    case NLE_OPNOTSUPP:
    case NLE_NOADDR:  // EADDRNOTAVAIL: an address the kernel will not take (a multicast MAC)
      return ErrorKind::InvalidArgument;
    default:
      return ErrorKind::Unavailable;
  }
}

// Names longer than IFNAMSIZ-1 would be cut by the kernel or refused with a vague EINVAL.
Status checkDeviceName(std::string_view name);

// An IPv4 address as the four network-order bytes netlink carries.
inline std::uint32_t toNetworkOrder(Ipv4Address address) { return htonl(address.value()); }

// The IPv4 address in a netlink attribute; nullopt unless it holds exactly four bytes.
inline std::optional<Ipv4Address> ipv4Of(const nlattr* attr) {
  if (attr == nullptr || nla_len(attr) != sizeof(std::uint32_t)) {
    return std::nullopt;
  }
  std::uint32_t networkOrder = 0;
  std::memcpy(&networkOrder, nla_data(attr), sizeof(networkOrder));
  return Ipv4Address::fromValue(ntohl(networkOrder));
}

// The MAC address in a netlink attribute; nullopt unless it holds exactly six bytes.
inline std::optional<MacAddress> macOf(const nlattr* attr) {
  if (attr == nullptr || nla_len(attr) != static_cast<int>(MacAddress::kLength)) {
    return std::nullopt;
  }
  MacAddress::Bytes bytes{};
  std::memcpy(bytes.data(), nla_data(attr), bytes.size());
  return MacAddress::fromBytes(bytes);
}

// A request message of `type` with `flags` and the fixed header `header` (ndmsg, rtmsg,
// ifaddrmsg...); null when out of memory.
template <typename Header>
MsgPtr newRequest(int type, int flags, const Header& header) {
  MsgPtr msg(nlmsg_alloc_simple(type, flags));
  if (!msg) {
    return nullptr;
  }
  // nlmsg_append copies the header; it only wants a non-const pointer.
  if (nlmsg_append(msg.get(), const_cast<Header*>(&header), sizeof(Header), NLMSG_ALIGNTO) < 0) {
    return nullptr;
  }
  return msg;
}

// One AF_BRIDGE neighbour record as the kernel dumps it.
struct BridgeFdbRecord {
  MacAddress mac;
  std::optional<Ipv4Address> remote;  // NDA_DST: set on a VXLAN device's static entries
  bool self = false;                  // NTF_SELF: the device's own table
  bool permanent = false;             // NUD_PERMANENT
  bool onMaster = false;              // NDA_MASTER: the bridge's table (learned entries)
};

}  // namespace overmesh::dataplane::kernel::netlink_internal
