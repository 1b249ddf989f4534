// Netlink: IPv4 addresses (RTM_NEWADDR / RTM_DELADDR / RTM_GETADDR).

#include <linux/if_addr.h>
#include <linux/rtnetlink.h>

#include <algorithm>
#include <map>

#include "dataplane/linux/netlink.h"
#include "dataplane/linux/netlink_internal.h"

namespace overmesh::dataplane::kernel {

using netlink_internal::AddrPtr;
using netlink_internal::NlAddrPtr;
using netlink_internal::MsgPtr;
using netlink_internal::toNetworkOrder;
using netlink_internal::ipv4Of;
using netlink_internal::newRequest;

Status Netlink::addAddress(std::string_view device, const Ipv4Prefix& address) {
  std::string operation = fmt::format("add address {} to", address);
  auto index = linkIndex(device);
  if (!index) {
    return std::unexpected(index.error().withContext(operation));
  }
  std::uint32_t networkOrder = toNetworkOrder(address.address());
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

Result<std::vector<AddressEntry>> Netlink::listAddresses(std::string_view device) {
  int onlyIndex = 0;
  if (!device.empty()) {
    auto index = linkIndex(device);
    if (!index) {
      return std::unexpected(index.error().withContext("list addresses"));
    }
    onlyIndex = *index;
  }
  auto links = listLinks();
  if (!links) {
    return std::unexpected(links.error().withContext("list addresses"));
  }
  std::map<int, std::string> names;
  for (const auto& link : *links) {
    names[link.index] = link.name;
  }

  std::vector<AddressEntry> addresses;
  ifaddrmsg request{};
  request.ifa_family = AF_INET;
  auto onMessage = [&](nlmsghdr* header) {
    if (header->nlmsg_type != RTM_NEWADDR) {
      return;
    }
    const auto* message = static_cast<const ifaddrmsg*>(nlmsg_data(header));
    if (message->ifa_family != AF_INET ||
        (onlyIndex != 0 && static_cast<int>(message->ifa_index) != onlyIndex)) {
      return;
    }
    nlattr* attributes[IFA_MAX + 1] = {};
    if (nlmsg_parse(header, sizeof(ifaddrmsg), attributes, IFA_MAX, nullptr) < 0) {
      return;
    }
    // IFA_LOCAL is the address itself; IFA_ADDRESS is the peer on point-to-point links and
    // the same address elsewhere.
    auto local =
        ipv4Of(attributes[IFA_LOCAL] != nullptr ? attributes[IFA_LOCAL] : attributes[IFA_ADDRESS]);
    if (!local) {
      return;
    }
    auto prefix = Ipv4Prefix::fromParts(*local, message->ifa_prefixlen);
    if (!prefix) {
      return;
    }
    auto name = names.find(static_cast<int>(message->ifa_index));
    addresses.push_back(
        {name != names.end() ? name->second : fmt::format("if{}", message->ifa_index), *prefix});
  };
  if (int err = dump(RTM_GETADDR, &request, sizeof(request), onMessage,
                     [&addresses] { addresses.clear(); });
      err < 0) {
    return std::unexpected(error(err, "list addresses of", device.empty() ? "*" : device));
  }
  std::sort(addresses.begin(), addresses.end());
  return addresses;
}

Status Netlink::deleteAddress(std::string_view device, const Ipv4Prefix& address) {
  std::string operation = fmt::format("delete address {} from", address);
  auto index = linkIndex(device);
  if (!index) {
    return std::unexpected(index.error().withContext(operation));
  }
  ifaddrmsg request{};
  request.ifa_family = AF_INET;
  request.ifa_prefixlen = static_cast<unsigned char>(address.length());
  request.ifa_index = static_cast<unsigned int>(*index);
  MsgPtr msg = newRequest(RTM_DELADDR, 0, request);
  std::uint32_t networkOrder = toNetworkOrder(address.address());
  if (!msg || nla_put(msg.get(), IFA_LOCAL, sizeof(networkOrder), &networkOrder) < 0 ||
      nla_put(msg.get(), IFA_ADDRESS, sizeof(networkOrder), &networkOrder) < 0) {
    return std::unexpected(error(-NLE_NOMEM, operation, device));
  }
  if (int err = sendRequest(msg.get()); err < 0) {
    // EADDRNOTAVAIL: the device does not have this address (any more).
    if (-err == NLE_NOADDR) {
      return {};
    }
    return std::unexpected(error(err, operation, device));
  }
  return {};
}

}  // namespace overmesh::dataplane::kernel
