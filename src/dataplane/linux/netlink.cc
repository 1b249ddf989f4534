#include "dataplane/linux/netlink.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <netlink/addr.h>
#include <netlink/errno.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>
#include <netlink/socket.h>

#include <cstring>
#include <optional>

#include "dataplane/linux/netns.h"

namespace overmesh::dataplane::kernel {
namespace {

// RAII owners for libnl objects: each libnl allocation has exactly one owner here, so an
// early return cannot leak a reference.
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

ErrorKind kindOf(int code) {
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
      return ErrorKind::InvalidArgument;
    default:
      return ErrorKind::Unavailable;
  }
}

// Names longer than IFNAMSIZ-1 would be cut by the kernel or refused with a vague EINVAL.
Status checkDeviceName(std::string_view name) {
  if (name.empty() || name.size() >= IFNAMSIZ || name.find('/') != std::string_view::npos ||
      name.find(' ') != std::string_view::npos) {
    return errorf(ErrorKind::InvalidArgument,
                  "\"{}\" is not a valid device name: use 1-{} characters, no '/' or space", name,
                  IFNAMSIZ - 1);
  }
  return {};
}

}  // namespace

struct Netlink::LinkChange {
  bool up = false;
  std::optional<int> masterIndex;
  std::optional<unsigned int> mtu;
};

void Netlink::SocketDeleter::operator()(nl_sock* sock) const { nl_socket_free(sock); }

Netlink::Netlink(SocketPtr sock, std::string namespaceName)
    : sock_(std::move(sock)), namespaceName_(std::move(namespaceName)) {}

Netlink::~Netlink() = default;
Netlink::Netlink(Netlink&&) noexcept = default;
Netlink& Netlink::operator=(Netlink&&) noexcept = default;

Result<Netlink> Netlink::open(std::string_view namespaceName) {
  auto connect = [namespaceName]() -> Result<Netlink> {
    SocketPtr sock(nl_socket_alloc());
    if (!sock) {
      return errorf(ErrorKind::Unavailable, "netlink: allocate a socket: out of memory");
    }
    if (int err = nl_connect(sock.get(), NETLINK_ROUTE); err < 0) {
      return errorf(ErrorKind::Unavailable,
                    "netlink: connect a route socket in namespace \"{}\": {}", namespaceName,
                    nl_geterror(err));
    }
    return Netlink(std::move(sock), std::string(namespaceName));
  };
  if (namespaceName.empty()) {
    return connect();
  }
  return runInNamespace(namespaceName, connect);
}

Error Netlink::error(int code, std::string_view operation, std::string_view device) const {
  std::string where = namespaceName_.empty() ? "the current namespace"
                                             : fmt::format("namespace \"{}\"", namespaceName_);
  return Error{kindOf(code),
               fmt::format("{} \"{}\" in {}: {}", operation, device, where, nl_geterror(code))};
}

Status Netlink::createBridge(std::string_view name, unsigned int mtu) {
  if (auto valid = checkDeviceName(name); !valid) {
    return valid;
  }
  LinkPtr link(rtnl_link_alloc());
  if (!link) {
    return std::unexpected(error(-NLE_NOMEM, "create bridge", name));
  }
  std::string nameText(name);
  rtnl_link_set_name(link.get(), nameText.c_str());
  if (int err = rtnl_link_set_type(link.get(), "bridge"); err < 0) {
    return std::unexpected(error(err, "create bridge", name));
  }
  rtnl_link_set_mtu(link.get(), mtu);
  if (int err = rtnl_link_add(sock_.get(), link.get(), NLM_F_CREATE | NLM_F_EXCL); err < 0) {
    return std::unexpected(error(err, "create bridge", name));
  }
  return {};
}

Status Netlink::createVethPair(std::string_view name, std::string_view peerName,
                               int peerNamespaceFd, unsigned int mtu) {
  if (auto valid = checkDeviceName(name); !valid) {
    return valid;
  }
  if (auto valid = checkDeviceName(peerName); !valid) {
    return valid;
  }
  std::string operation = fmt::format("create veth pair (peer \"{}\")", peerName);
  VethPtr link(rtnl_link_veth_alloc());
  if (!link) {
    return std::unexpected(error(-NLE_NOMEM, operation, name));
  }
  // get_peer hands out a new reference; the veth object keeps its own.
  LinkPtr peer(rtnl_link_veth_get_peer(link.get()));
  if (!peer) {
    return std::unexpected(error(-NLE_NOMEM, operation, name));
  }
  std::string nameText(name);
  std::string peerText(peerName);
  rtnl_link_set_name(link.get(), nameText.c_str());
  rtnl_link_set_mtu(link.get(), mtu);
  rtnl_link_set_name(peer.get(), peerText.c_str());
  rtnl_link_set_mtu(peer.get(), mtu);
  if (peerNamespaceFd >= 0) {
    rtnl_link_set_ns_fd(peer.get(), peerNamespaceFd);
  }
  if (int err = rtnl_link_add(sock_.get(), link.get(), NLM_F_CREATE | NLM_F_EXCL); err < 0) {
    return std::unexpected(error(err, operation, name));
  }
  return {};
}

Status Netlink::changeLink(std::string_view device, const LinkChange& change,
                           std::string_view operation) {
  if (auto valid = checkDeviceName(device); !valid) {
    return valid;
  }
  rtnl_link* current = nullptr;
  std::string deviceText(device);
  if (int err = rtnl_link_get_kernel(sock_.get(), 0, deviceText.c_str(), &current); err < 0) {
    return std::unexpected(error(err, operation, device));
  }
  LinkPtr orig(current);
  LinkPtr changes(rtnl_link_alloc());
  if (!changes) {
    return std::unexpected(error(-NLE_NOMEM, operation, device));
  }
  if (change.up) {
    rtnl_link_set_flags(changes.get(), IFF_UP);
  }
  if (change.masterIndex) {
    rtnl_link_set_master(changes.get(), *change.masterIndex);
  }
  if (change.mtu) {
    rtnl_link_set_mtu(changes.get(), *change.mtu);
  }
  if (int err = rtnl_link_change(sock_.get(), orig.get(), changes.get(), 0); err < 0) {
    return std::unexpected(error(err, operation, device));
  }
  return {};
}

Status Netlink::setMaster(std::string_view device, std::string_view bridge) {
  auto bridgeIndex = linkIndex(bridge);
  if (!bridgeIndex) {
    return std::unexpected(bridgeIndex.error().withContext(fmt::format("enslave \"{}\"", device)));
  }
  return changeLink(device, LinkChange{.masterIndex = *bridgeIndex},
                    fmt::format("enslave to bridge \"{}\"", bridge));
}

Status Netlink::setUp(std::string_view device) {
  return changeLink(device, LinkChange{.up = true}, "set up");
}

Status Netlink::setMtu(std::string_view device, unsigned int mtu) {
  return changeLink(device, LinkChange{.mtu = mtu}, fmt::format("set MTU {} on", mtu));
}

Status Netlink::addAddress(std::string_view device, const Ipv4Prefix& address) {
  std::string operation = fmt::format("add address {} to", address);
  auto index = linkIndex(device);
  if (!index) {
    return std::unexpected(index.error().withContext(operation));
  }
  std::uint32_t networkOrder = htonl(address.address().value());
  NlAddrPtr local(nl_addr_build(AF_INET, &networkOrder, sizeof(networkOrder)));
  AddrPtr addr(rtnl_addr_alloc());
  if (!local || !addr) {
    return std::unexpected(error(-NLE_NOMEM, operation, device));
  }
  nl_addr_set_prefixlen(local.get(), address.length());
  rtnl_addr_set_ifindex(addr.get(), *index);
  rtnl_addr_set_family(addr.get(), AF_INET);
  if (int err = rtnl_addr_set_local(addr.get(), local.get()); err < 0) {
    return std::unexpected(error(err, operation, device));
  }
  rtnl_addr_set_prefixlen(addr.get(), address.length());
  if (int err = rtnl_addr_add(sock_.get(), addr.get(), NLM_F_CREATE | NLM_F_EXCL); err < 0) {
    return std::unexpected(error(err, operation, device));
  }
  return {};
}

Status Netlink::deleteLink(std::string_view device) {
  if (auto valid = checkDeviceName(device); !valid) {
    return valid;
  }
  LinkPtr link(rtnl_link_alloc());
  if (!link) {
    return std::unexpected(error(-NLE_NOMEM, "delete", device));
  }
  std::string deviceText(device);
  rtnl_link_set_name(link.get(), deviceText.c_str());
  if (int err = rtnl_link_delete(sock_.get(), link.get()); err < 0) {
    if (kindOf(err) == ErrorKind::NotFound) {
      return {};
    }
    return std::unexpected(error(err, "delete", device));
  }
  return {};
}

Result<LinkInfo> Netlink::link(std::string_view device) {
  if (auto valid = checkDeviceName(device); !valid) {
    return std::unexpected(valid.error());
  }
  rtnl_link* found = nullptr;
  std::string deviceText(device);
  if (int err = rtnl_link_get_kernel(sock_.get(), 0, deviceText.c_str(), &found); err < 0) {
    return std::unexpected(error(err, "look up", device));
  }
  LinkPtr owned(found);
  LinkInfo info;
  info.name = rtnl_link_get_name(found) != nullptr ? rtnl_link_get_name(found) : deviceText;
  info.index = rtnl_link_get_ifindex(found);
  const char* type = rtnl_link_get_type(found);
  info.type = type != nullptr ? type : "";
  info.mtu = rtnl_link_get_mtu(found);
  info.up = (rtnl_link_get_flags(found) & IFF_UP) != 0;
  info.masterIndex = rtnl_link_get_master(found);
  return info;
}

Result<int> Netlink::linkIndex(std::string_view device) {
  auto info = link(device);
  if (!info) {
    return std::unexpected(info.error());
  }
  return info->index;
}

Result<bool> Netlink::linkExists(std::string_view device) {
  auto info = link(device);
  if (info) {
    return true;
  }
  if (info.error().kind == ErrorKind::NotFound) {
    return false;
  }
  return std::unexpected(info.error());
}

}  // namespace overmesh::dataplane::kernel
