// Netlink: the socket, error reporting, the raw request/dump helpers the other netlink_*.cc
// files share, links and VXLAN devices.

#include "dataplane/linux/netlink.h"

#include <linux/netlink.h>
#include <net/if.h>
#include <netlink/netlink.h>
#include <netlink/route/link/vxlan.h>
#include <netlink/socket.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>

#include "dataplane/linux/netlink_internal.h"
#include "dataplane/linux/netns.h"

namespace overmesh::dataplane::kernel {

using netlink_internal::LinkPtr;
using netlink_internal::VethPtr;
using netlink_internal::NlAddrPtr;
using netlink_internal::CachePtr;
using netlink_internal::CallbackPtr;
using netlink_internal::KernelError;
using netlink_internal::kindOf;
using netlink_internal::checkDeviceName;
using netlink_internal::toNetworkOrder;

struct Netlink::LinkChange {
  bool up = false;
  std::optional<int> masterIndex;
  std::optional<unsigned int> mtu;
  bool down = false;
  int namespaceFd = -1;
  std::optional<MacAddress> mac;
};

namespace {

// The socket's error callback: records the errno and the extended-ack message of an error
// answer, then lets libnl turn it into its NLE_* code as usual (NL_STOP does that).
int captureKernelError(sockaddr_nl* /*who*/, nlmsgerr* answer, void* arg) {
  static_cast<KernelError*>(arg)->record(answer);
  return NL_STOP;
}

// The kind of an errno that libnl lumps into NLE_FAILURE.
ErrorKind kindOfErrno(int sysErrno) {
  switch (sysErrno) {
    case ENETUNREACH:
    case EHOSTUNREACH:
    case EAFNOSUPPORT:
      return ErrorKind::InvalidArgument;
    default:
      return ErrorKind::Unavailable;
  }
}

LinkInfo linkInfoOf(rtnl_link* link, std::string_view fallbackName) {
  LinkInfo info;
  const char* name = rtnl_link_get_name(link);
  info.name = name != nullptr ? name : std::string(fallbackName);
  info.index = rtnl_link_get_ifindex(link);
  const char* type = rtnl_link_get_type(link);
  info.type = type != nullptr ? type : "";
  info.mtu = rtnl_link_get_mtu(link);
  info.up = (rtnl_link_get_flags(link) & IFF_UP) != 0;
  info.masterIndex = rtnl_link_get_master(link);
  if (nl_addr* address = rtnl_link_get_addr(link);
      address != nullptr && nl_addr_get_len(address) == MacAddress::kLength) {
    MacAddress::Bytes bytes{};
    std::memcpy(bytes.data(), nl_addr_get_binary_addr(address), bytes.size());
    info.mac = MacAddress::fromBytes(bytes);
  }
  return info;
}

// Calls the std::function behind `arg` for one answer of a dump.
int forwardDumpMessage(nl_msg* msg, void* arg) {
  const auto* onMessage = static_cast<const std::function<void(nlmsghdr*)>*>(arg);
  (*onMessage)(nlmsg_hdr(msg));
  return NL_OK;
}

constexpr int kDumpAttempts = 4;

}  // namespace

namespace netlink_internal {

Status checkDeviceName(std::string_view name) {
  if (name.empty() || name.size() >= IFNAMSIZ || name.find('/') != std::string_view::npos ||
      name.find(' ') != std::string_view::npos) {
    return errorf(ErrorKind::InvalidArgument,
                  "\"{}\" is not a valid device name: use 1-{} characters, no '/' or space", name,
                  IFNAMSIZ - 1);
  }
  return {};
}

void KernelError::record(const nlmsgerr* answer) {
  clear();
  sysErrno = answer->error < 0 ? -answer->error : answer->error;
  // The answer is an nlmsghdr followed by `answer`; with NLM_F_ACK_TLVS the extended-ack
  // attributes follow the echoed request (just its header when NLM_F_CAPPED).
  const auto* header =
      reinterpret_cast<const nlmsghdr*>(reinterpret_cast<const char*>(answer) - NLMSG_HDRLEN);
  if ((header->nlmsg_flags & NLM_F_ACK_TLVS) == 0) {
    return;
  }
  std::size_t echoed = (header->nlmsg_flags & NLM_F_CAPPED) != 0
                           ? sizeof(nlmsgerr)
                           : sizeof(nlmsgerr) - sizeof(nlmsghdr) + answer->msg.nlmsg_len;
  std::size_t offset = NLMSG_HDRLEN + NLMSG_ALIGN(echoed);
  if (offset >= header->nlmsg_len) {
    return;
  }
  nlattr* attributes[NLMSGERR_ATTR_MAX + 1] = {};
  // nla_parse only reads; it wants a non-const pointer.
  auto* first =
      reinterpret_cast<nlattr*>(const_cast<char*>(reinterpret_cast<const char*>(header)) + offset);
  if (nla_parse(attributes, NLMSGERR_ATTR_MAX, first, static_cast<int>(header->nlmsg_len - offset),
                nullptr) < 0) {
    return;
  }
  if (const nlattr* text = attributes[NLMSGERR_ATTR_MSG]; text != nullptr && nla_len(text) > 0) {
    const char* chars = static_cast<const char*>(nla_data(text));
    message.assign(chars, strnlen(chars, static_cast<std::size_t>(nla_len(text))));
  }
}

}  // namespace netlink_internal

void Netlink::SocketDeleter::operator()(nl_sock* sock) const { nl_socket_free(sock); }

Netlink::Netlink(SocketPtr sock, std::string namespaceName,
                 std::unique_ptr<KernelError> kernelError)
    : sock_(std::move(sock)),
      namespaceName_(std::move(namespaceName)),
      kernelError_(std::move(kernelError)) {
  nl_socket_modify_err_cb(sock_.get(), NL_CB_CUSTOM, captureKernelError, kernelError_.get());
}

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
    // Ask for the kernel's explanation with every error ("Nexthop has invalid gateway"),
    // without the echoed request. Kernels before 4.12 refuse these options; their error
    // messages are then just shorter, so a refusal is deliberately ignored.
    int on = 1;
    int fd = nl_socket_get_fd(sock.get());
    static_cast<void>(setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &on, sizeof(on)));
    static_cast<void>(setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &on, sizeof(on)));
    return Netlink(std::move(sock), std::string(namespaceName), std::make_unique<KernelError>());
  };
  if (namespaceName.empty()) {
    return connect();
  }
  return runInNamespace(namespaceName, connect);
}

std::string Netlink::where() const {
  return namespaceName_.empty() ? "the current namespace"
                                : fmt::format("namespace \"{}\"", namespaceName_);
}

Error Netlink::error(int code, std::string_view operation, std::string_view object) const {
  ErrorKind kind = kindOf(code);
  std::string text = nl_geterror(code);
  // Use the captured answer only if it is the one behind `code`, and consume it either way
  // so that it cannot decorate a later, unrelated error.
  KernelError& kernel = *kernelError_;
  if (kernel.sysErrno != 0 && -nl_syserr2nlerr(kernel.sysErrno) == code) {
    if (-code == NLE_FAILURE) {
      // libnl says only "Unspecific failure"; the errno says more.
      text = errnoText(kernel.sysErrno);
      kind = kindOfErrno(kernel.sysErrno);
    }
    if (!kernel.message.empty()) {
      text = fmt::format("{} ({})", text, kernel.message);
    }
  }
  kernel.clear();
  return Error{kind, fmt::format("{} \"{}\" in {}: {}", operation, object, where(), text)};
}

int Netlink::sendRequest(nl_msg* message) {
  kernelError_->clear();
  if (int err = nl_send_auto(sock_.get(), message); err < 0) {
    return err;
  }
  return nl_wait_for_ack(sock_.get());
}

int Netlink::dump(int type, const void* header, std::size_t headerSize,
                  const std::function<void(nlmsghdr*)>& onMessage,
                  const std::function<void()>& onRestart) {
  for (int attempt = 1;; ++attempt) {
    kernelError_->clear();
    // nl_send_simple copies the header; it only wants a non-const pointer.
    if (int err =
            nl_send_simple(sock_.get(), type, NLM_F_DUMP, const_cast<void*>(header), headerSize);
        err < 0) {
      return err;
    }
    CallbackPtr base(nl_socket_get_cb(sock_.get()));
    CallbackPtr cb(base ? nl_cb_clone(base.get()) : nullptr);
    if (!cb) {
      return -NLE_NOMEM;
    }
    nl_cb_set(cb.get(), NL_CB_VALID, NL_CB_CUSTOM, forwardDumpMessage,
              const_cast<void*>(static_cast<const void*>(&onMessage)));
    int err = nl_recvmsgs(sock_.get(), cb.get());
    if (err == -NLE_DUMP_INTR && attempt < kDumpAttempts) {
      onRestart();
      continue;
    }
    return err < 0 ? err : 0;
  }
}

// ---- links ----------------------------------------------------------------------------------

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
  if (change.down) {
    rtnl_link_unset_flags(changes.get(), IFF_UP);
  }
  if (change.masterIndex) {
    rtnl_link_set_master(changes.get(), *change.masterIndex);
  }
  if (change.mtu) {
    rtnl_link_set_mtu(changes.get(), *change.mtu);
  }
  if (change.namespaceFd >= 0) {
    rtnl_link_set_ns_fd(changes.get(), change.namespaceFd);
  }
  if (change.mac) {
    NlAddrPtr address(nl_addr_build(AF_LLC, change.mac->bytes().data(), MacAddress::kLength));
    if (!address) {
      return std::unexpected(error(-NLE_NOMEM, operation, device));
    }
    rtnl_link_set_addr(changes.get(), address.get());
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

Status Netlink::setDown(std::string_view device) {
  return changeLink(device, LinkChange{.down = true}, "set down");
}

Status Netlink::setMtu(std::string_view device, unsigned int mtu) {
  return changeLink(device, LinkChange{.mtu = mtu}, fmt::format("set MTU {} on", mtu));
}

Status Netlink::setMacAddress(std::string_view device, const MacAddress& mac) {
  return changeLink(device, LinkChange{.mac = mac}, fmt::format("set MAC address {} on", mac));
}

Status Netlink::moveToNamespace(std::string_view device, int namespaceFd) {
  if (namespaceFd < 0) {
    return errorf(ErrorKind::InvalidArgument,
                  "move \"{}\" in {} to another namespace: no namespace descriptor given", device,
                  where());
  }
  return changeLink(device, LinkChange{.namespaceFd = namespaceFd}, "move to another namespace");
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
      kernelError_->clear();
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
  return linkInfoOf(found, device);
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

Result<std::vector<LinkInfo>> Netlink::listLinks() {
  nl_cache* raw = nullptr;
  if (int err = rtnl_link_alloc_cache(sock_.get(), AF_UNSPEC, &raw); err < 0) {
    return std::unexpected(error(err, "list links", "*"));
  }
  CachePtr cache(raw);
  std::vector<LinkInfo> links;
  for (nl_object* object = nl_cache_get_first(cache.get()); object != nullptr;
       object = nl_cache_get_next(object)) {
    links.push_back(linkInfoOf(reinterpret_cast<rtnl_link*>(object), ""));
  }
  std::sort(links.begin(), links.end(),
            [](const LinkInfo& a, const LinkInfo& b) { return a.index < b.index; });
  return links;
}

// ---- VXLAN devices --------------------------------------------------------------------------

Status Netlink::createVxlan(std::string_view name, std::uint32_t vni, Ipv4Address local,
                            std::uint16_t dstPort, unsigned int mtu) {
  if (auto valid = checkDeviceName(name); !valid) {
    return valid;
  }
  std::string operation = fmt::format("create VXLAN device (VNI {})", vni);
  if (vni > kMaxVni) {
    return errorf(ErrorKind::InvalidArgument, "{} \"{}\" in {}: VNI {} is out of range 0-{}",
                  operation, name, where(), vni, kMaxVni);
  }
  if (dstPort == 0) {
    return errorf(ErrorKind::InvalidArgument,
                  "{} \"{}\" in {}: UDP port 0 is not a port (4789 is VXLAN's)", operation, name,
                  where());
  }
  LinkPtr link(rtnl_link_vxlan_alloc());
  if (!link) {
    return std::unexpected(error(-NLE_NOMEM, operation, name));
  }
  std::string nameText(name);
  rtnl_link_set_name(link.get(), nameText.c_str());
  rtnl_link_set_mtu(link.get(), mtu);
  int err = rtnl_link_vxlan_set_id(link.get(), vni);
  if (err >= 0 && local != Ipv4Address()) {
    std::uint32_t networkOrder = toNetworkOrder(local);
    NlAddrPtr address(nl_addr_build(AF_INET, &networkOrder, sizeof(networkOrder)));
    err = address ? rtnl_link_vxlan_set_local(link.get(), address.get()) : -NLE_NOMEM;
  }
  if (err >= 0) {
    err = rtnl_link_vxlan_set_learning(link.get(), 0);
  }
  if (err >= 0) {
    err = rtnl_link_vxlan_set_proxy(link.get(), 1);
  }
  if (err >= 0) {
    err = rtnl_link_vxlan_set_port(link.get(), dstPort);
  }
  if (err < 0) {
    return std::unexpected(error(err, operation, name));
  }
  if (err = rtnl_link_add(sock_.get(), link.get(), NLM_F_CREATE | NLM_F_EXCL); err < 0) {
    return std::unexpected(error(err, operation, name));
  }
  return {};
}

Result<VxlanInfo> Netlink::vxlanInfo(std::string_view name) {
  if (auto valid = checkDeviceName(name); !valid) {
    return std::unexpected(valid.error());
  }
  rtnl_link* found = nullptr;
  std::string nameText(name);
  if (int err = rtnl_link_get_kernel(sock_.get(), 0, nameText.c_str(), &found); err < 0) {
    return std::unexpected(error(err, "look up VXLAN device", name));
  }
  LinkPtr owned(found);
  if (!rtnl_link_is_vxlan(found)) {
    const char* type = rtnl_link_get_type(found);
    return errorf(ErrorKind::InvalidArgument, "\"{}\" in {} is a {} device, not a VXLAN device",
                  name, where(), type != nullptr ? type : "plain");
  }
  VxlanInfo info;
  info.mtu = rtnl_link_get_mtu(found);
  rtnl_link_vxlan_get_id(found, &info.vni);
  nl_addr* local = nullptr;
  // get_local builds a new address (or fails when none is set); it is ours to release.
  if (rtnl_link_vxlan_get_local(found, &local) >= 0 && local != nullptr) {
    NlAddrPtr ownedLocal(local);
    if (nl_addr_get_family(local) == AF_INET && nl_addr_get_len(local) == sizeof(std::uint32_t)) {
      std::uint32_t networkOrder = 0;
      std::memcpy(&networkOrder, nl_addr_get_binary_addr(local), sizeof(networkOrder));
      info.local = Ipv4Address::fromValue(ntohl(networkOrder));
    }
  }
  info.learning = rtnl_link_vxlan_get_learning(found) > 0;
  info.proxy = rtnl_link_vxlan_get_proxy(found) > 0;
  std::uint32_t port = 0;
  if (rtnl_link_vxlan_get_port(found, &port) >= 0) {
    info.port = static_cast<std::uint16_t>(port);
  }
  return info;
}

}  // namespace overmesh::dataplane::kernel
