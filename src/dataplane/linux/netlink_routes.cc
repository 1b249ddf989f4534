// Netlink: IPv4 routes of a routing table, the main one unless said otherwise (RTM_NEWROUTE /
// RTM_DELROUTE / RTM_GETROUTE). Built as raw messages so that the scope is explicit: libnl's route
// objects guess a scope for a delete, which then fails to match on-link routes.

#include <linux/rtnetlink.h>

#include <algorithm>
#include <map>

#include "dataplane/linux/netlink.h"
#include "dataplane/linux/netlink_internal.h"

namespace overmesh::dataplane::kernel {

using netlink_internal::MsgPtr;
using netlink_internal::kindOf;
using netlink_internal::toNetworkOrder;
using netlink_internal::ipv4Of;
using netlink_internal::newRequest;

namespace {

// rtm_table holds 8 bits; larger table numbers travel in RTA_TABLE only.
unsigned char headerTable(std::uint32_t table) {
  return table < 256 ? static_cast<unsigned char>(table)
                     : static_cast<unsigned char>(RT_TABLE_UNSPEC);
}

}  // namespace

Status Netlink::addRoute(const Ipv4Prefix& destination, std::optional<Ipv4Address> gateway,
                         std::string_view device, std::uint32_t table) {
  std::string operation = gateway ? fmt::format("add route via {} dev \"{}\" to", *gateway, device)
                                  : fmt::format("add route dev \"{}\" to", device);
  std::string what = destination.toString();
  if (!destination.isNetworkAddress()) {
    return errorf(ErrorKind::InvalidArgument,
                  "{} \"{}\" in {}: the destination has host bits set; did you mean {}?", operation,
                  what, where(), destination.masked());
  }
  if (table == 0 || table == RT_TABLE_LOCAL) {
    return errorf(ErrorKind::InvalidArgument, "{} \"{}\" in {}: table {} is not usable", operation,
                  what, where(), table);
  }
  if (!gateway && device.empty()) {
    return errorf(ErrorKind::InvalidArgument,
                  "{} \"{}\" in {}: an on-link route needs a device or a gateway", operation, what,
                  where());
  }
  int outputIndex = 0;
  if (!device.empty()) {
    auto index = linkIndex(device);
    if (!index) {
      return std::unexpected(index.error().withContext(fmt::format("{} {}", operation, what)));
    }
    outputIndex = *index;
  }
  rtmsg header{};
  header.rtm_family = AF_INET;
  header.rtm_dst_len = static_cast<unsigned char>(destination.length());
  header.rtm_table = headerTable(table);
  header.rtm_protocol = RTPROT_STATIC;
  header.rtm_scope = gateway ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
  header.rtm_type = RTN_UNICAST;
  MsgPtr msg = newRequest(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, header);
  bool built = msg != nullptr && nla_put_u32(msg.get(), RTA_TABLE, table) >= 0;
  if (built && destination.length() > 0) {
    std::uint32_t networkOrder = toNetworkOrder(destination.address());
    built = nla_put(msg.get(), RTA_DST, sizeof(networkOrder), &networkOrder) >= 0;
  }
  if (built && gateway) {
    std::uint32_t networkOrder = toNetworkOrder(*gateway);
    built = nla_put(msg.get(), RTA_GATEWAY, sizeof(networkOrder), &networkOrder) >= 0;
  }
  if (built && outputIndex != 0) {
    built = nla_put_u32(msg.get(), RTA_OIF, static_cast<std::uint32_t>(outputIndex)) >= 0;
  }
  if (!built) {
    return std::unexpected(error(-NLE_NOMEM, operation, what));
  }
  if (int err = sendRequest(msg.get()); err < 0) {
    return std::unexpected(error(err, operation, what));
  }
  return {};
}

Status Netlink::deleteRoute(const Ipv4Prefix& destination, std::uint32_t table) {
  std::string what = destination.masked().toString();
  rtmsg header{};
  header.rtm_family = AF_INET;
  header.rtm_dst_len = static_cast<unsigned char>(destination.length());
  header.rtm_table = headerTable(table);
  // RT_SCOPE_NOWHERE and no protocol, type or next hop: match the route whatever they are.
  header.rtm_scope = RT_SCOPE_NOWHERE;
  MsgPtr msg = newRequest(RTM_DELROUTE, 0, header);
  bool built = msg != nullptr && nla_put_u32(msg.get(), RTA_TABLE, table) >= 0;
  if (built && destination.length() > 0) {
    std::uint32_t networkOrder = toNetworkOrder(destination.network());
    built = nla_put(msg.get(), RTA_DST, sizeof(networkOrder), &networkOrder) >= 0;
  }
  if (!built) {
    return std::unexpected(error(-NLE_NOMEM, "delete route to", what));
  }
  if (int err = sendRequest(msg.get()); err < 0) {
    // ESRCH: no such route.
    if (kindOf(err) == ErrorKind::NotFound) {
      return {};
    }
    return std::unexpected(error(err, "delete route to", what));
  }
  return {};
}

Result<std::vector<RouteEntry>> Netlink::listRoutes(std::uint32_t wantedTable) {
  auto links = listLinks();
  if (!links) {
    return std::unexpected(links.error().withContext("list routes"));
  }
  std::map<int, std::string> names;
  for (const auto& link : *links) {
    names[link.index] = link.name;
  }
  std::vector<RouteEntry> routes;
  rtmsg request{};
  request.rtm_family = AF_INET;
  auto onMessage = [&](nlmsghdr* header) {
    if (header->nlmsg_type != RTM_NEWROUTE) {
      return;
    }
    const auto* message = static_cast<const rtmsg*>(nlmsg_data(header));
    if (message->rtm_family != AF_INET || message->rtm_type != RTN_UNICAST) {
      return;
    }
    nlattr* attributes[RTA_MAX + 1] = {};
    if (nlmsg_parse(header, sizeof(rtmsg), attributes, RTA_MAX, nullptr) < 0) {
      return;
    }
    // Table ids above 255 travel only in RTA_TABLE.
    std::uint32_t table =
        attributes[RTA_TABLE] != nullptr ? nla_get_u32(attributes[RTA_TABLE]) : message->rtm_table;
    if (table != wantedTable) {
      return;
    }
    Ipv4Address destination = ipv4Of(attributes[RTA_DST]).value_or(Ipv4Address());
    auto prefix = Ipv4Prefix::fromParts(destination, message->rtm_dst_len);
    if (!prefix) {
      return;
    }
    RouteEntry route;
    route.destination = *prefix;
    route.gateway = ipv4Of(attributes[RTA_GATEWAY]);
    if (attributes[RTA_OIF] != nullptr) {
      int index = static_cast<int>(nla_get_u32(attributes[RTA_OIF]));
      auto name = names.find(index);
      route.device = name != names.end() ? name->second : fmt::format("if{}", index);
    }
    routes.push_back(std::move(route));
  };
  if (int err =
          dump(RTM_GETROUTE, &request, sizeof(request), onMessage, [&routes] { routes.clear(); });
      err < 0) {
    return std::unexpected(error(err, "list routes of table", std::to_string(wantedTable)));
  }
  std::sort(routes.begin(), routes.end());
  return routes;
}

}  // namespace overmesh::dataplane::kernel
