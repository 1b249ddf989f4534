// Netlink: FDB entries on VXLAN devices and IPv4 neighbour entries. Both are RTM_*NEIGH
// messages; an FDB entry is family AF_BRIDGE with NTF_SELF (the device's own table, not
// its master bridge's) and NDA_DST naming the remote VTEP, as `bridge fdb ... self` sends.
// The messages are built here rather than through rtnl_neigh, whose AF_BRIDGE support does
// not carry NDA_DST in every libnl version.

#include <linux/neighbour.h>
#include <linux/rtnetlink.h>

#include <algorithm>

#include "dataplane/linux/netlink.h"
#include "dataplane/linux/netlink_internal.h"

namespace overmesh::dataplane::kernel {

using netlink_internal::MsgPtr;
using netlink_internal::kindOf;
using netlink_internal::toNetworkOrder;
using netlink_internal::ipv4Of;
using netlink_internal::macOf;
using netlink_internal::newRequest;

namespace {

// The RTM_NEWNEIGH / RTM_DELNEIGH header for `family` on `ifindex`.
ndmsg neighbourHeader(int family, int ifindex, std::uint16_t state, std::uint8_t flags) {
  ndmsg header{};
  header.ndm_family = static_cast<std::uint8_t>(family);
  header.ndm_ifindex = ifindex;
  header.ndm_state = state;
  header.ndm_flags = flags;
  return header;
}

}  // namespace

// ---- FDB ------------------------------------------------------------------------------------

Status Netlink::addFdbEntry(std::string_view device, const MacAddress& mac,
                            Ipv4Address remoteVtep) {
  std::string operation = fmt::format("add FDB entry {} -> {} on", mac, remoteVtep);
  auto link = this->link(device);
  if (!link) {
    return std::unexpected(link.error().withContext(operation));
  }
  if (link->type != "vxlan") {
    return errorf(ErrorKind::InvalidArgument,
                  "{} \"{}\" in {}: it is a {} device, not a VXLAN device", operation, device,
                  where(), link->type.empty() ? "plain" : link->type);
  }
  MsgPtr msg = newRequest(RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE,
                          neighbourHeader(AF_BRIDGE, link->index, NUD_PERMANENT, NTF_SELF));
  std::uint32_t vtep = toNetworkOrder(remoteVtep);
  if (!msg || nla_put(msg.get(), NDA_LLADDR, MacAddress::kLength, mac.bytes().data()) < 0 ||
      nla_put(msg.get(), NDA_DST, sizeof(vtep), &vtep) < 0) {
    return std::unexpected(error(-NLE_NOMEM, operation, device));
  }
  if (int err = sendRequest(msg.get()); err < 0) {
    return std::unexpected(error(err, operation, device));
  }
  return {};
}

Status Netlink::deleteFdbEntry(std::string_view device, const MacAddress& mac,
                               Ipv4Address remoteVtep) {
  std::string operation = fmt::format("delete FDB entry {} -> {} on", mac, remoteVtep);
  auto index = linkIndex(device);
  if (!index) {
    return std::unexpected(index.error().withContext(operation));
  }
  MsgPtr msg = newRequest(RTM_DELNEIGH, 0, neighbourHeader(AF_BRIDGE, *index, 0, NTF_SELF));
  std::uint32_t vtep = toNetworkOrder(remoteVtep);
  if (!msg || nla_put(msg.get(), NDA_LLADDR, MacAddress::kLength, mac.bytes().data()) < 0 ||
      nla_put(msg.get(), NDA_DST, sizeof(vtep), &vtep) < 0) {
    return std::unexpected(error(-NLE_NOMEM, operation, device));
  }
  if (int err = sendRequest(msg.get()); err < 0) {
    // ENOENT: no such MAC, or it points at another VTEP.
    if (kindOf(err) == ErrorKind::NotFound) {
      return {};
    }
    return std::unexpected(error(err, operation, device));
  }
  return {};
}

Result<std::vector<netlink_internal::BridgeFdbRecord>> Netlink::dumpBridgeFdb(
    std::string_view device, std::string_view what) {
  auto index = linkIndex(device);
  if (!index) {
    return std::unexpected(index.error().withContext(what));
  }
  std::vector<netlink_internal::BridgeFdbRecord> records;
  // The kernel dumps every device's FDB; keep this device's records.
  ndmsg request = neighbourHeader(AF_BRIDGE, 0, 0, 0);
  auto onMessage = [&](nlmsghdr* header) {
    if (header->nlmsg_type != RTM_NEWNEIGH) {
      return;
    }
    const auto* message = static_cast<const ndmsg*>(nlmsg_data(header));
    if (message->ndm_family != AF_BRIDGE || message->ndm_ifindex != *index) {
      return;
    }
    nlattr* attributes[NDA_MAX + 1] = {};
    if (nlmsg_parse(header, sizeof(ndmsg), attributes, NDA_MAX, nullptr) < 0) {
      return;
    }
    auto mac = macOf(attributes[NDA_LLADDR]);
    if (!mac) {
      return;
    }
    // The bridge's own entries carry NDA_MASTER (the NTF_MASTER flag only addresses
    // requests to the master).
    records.push_back({*mac, ipv4Of(attributes[NDA_DST]), (message->ndm_flags & NTF_SELF) != 0,
                       (message->ndm_state & NUD_PERMANENT) != 0,
                       attributes[NDA_MASTER] != nullptr});
  };
  if (int err = dump(RTM_GETNEIGH, &request, sizeof(request), onMessage,
                     [&records] { records.clear(); });
      err < 0) {
    return std::unexpected(error(err, what, device));
  }
  return records;
}

Result<std::vector<FdbEntry>> Netlink::listFdbEntries(std::string_view device) {
  auto records = dumpBridgeFdb(device, "list FDB entries of");
  if (!records) {
    return std::unexpected(records.error());
  }
  std::vector<FdbEntry> entries;
  for (const auto& record : *records) {
    if (record.self && record.remote) {
      entries.push_back({record.mac, *record.remote});
    }
  }
  std::sort(entries.begin(), entries.end());
  return entries;
}

Result<std::vector<MacAddress>> Netlink::listLearnedFdbEntries(std::string_view device) {
  auto records = dumpBridgeFdb(device, "list learned FDB entries of");
  if (!records) {
    return std::unexpected(records.error());
  }
  std::vector<MacAddress> macs;
  for (const auto& record : *records) {
    if (record.onMaster && !record.self && !record.permanent) {
      macs.push_back(record.mac);
    }
  }
  return macs;
}

Status Netlink::deleteLearnedFdbEntry(std::string_view device, const MacAddress& mac) {
  std::string operation = fmt::format("delete learned FDB entry {} on", mac);
  auto index = linkIndex(device);
  if (!index) {
    return std::unexpected(index.error().withContext(operation));
  }
  MsgPtr msg = newRequest(RTM_DELNEIGH, 0, neighbourHeader(AF_BRIDGE, *index, 0, NTF_MASTER));
  if (!msg || nla_put(msg.get(), NDA_LLADDR, MacAddress::kLength, mac.bytes().data()) < 0) {
    return std::unexpected(error(-NLE_NOMEM, operation, device));
  }
  if (int err = sendRequest(msg.get()); err < 0) {
    if (kindOf(err) == ErrorKind::NotFound) {
      return {};
    }
    return std::unexpected(error(err, operation, device));
  }
  return {};
}

// ---- IPv4 neighbours ------------------------------------------------------------------------

Status Netlink::addNeighbour(std::string_view device, Ipv4Address ip, const MacAddress& mac) {
  std::string operation = fmt::format("add neighbour {} -> {} on", ip, mac);
  auto index = linkIndex(device);
  if (!index) {
    return std::unexpected(index.error().withContext(operation));
  }
  MsgPtr msg = newRequest(RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE,
                          neighbourHeader(AF_INET, *index, NUD_PERMANENT, 0));
  std::uint32_t destination = toNetworkOrder(ip);
  if (!msg || nla_put(msg.get(), NDA_DST, sizeof(destination), &destination) < 0 ||
      nla_put(msg.get(), NDA_LLADDR, MacAddress::kLength, mac.bytes().data()) < 0) {
    return std::unexpected(error(-NLE_NOMEM, operation, device));
  }
  if (int err = sendRequest(msg.get()); err < 0) {
    return std::unexpected(error(err, operation, device));
  }
  return {};
}

Status Netlink::deleteNeighbour(std::string_view device, Ipv4Address ip) {
  std::string operation = fmt::format("delete neighbour {} on", ip);
  auto index = linkIndex(device);
  if (!index) {
    return std::unexpected(index.error().withContext(operation));
  }
  MsgPtr msg = newRequest(RTM_DELNEIGH, 0, neighbourHeader(AF_INET, *index, 0, 0));
  std::uint32_t destination = toNetworkOrder(ip);
  if (!msg || nla_put(msg.get(), NDA_DST, sizeof(destination), &destination) < 0) {
    return std::unexpected(error(-NLE_NOMEM, operation, device));
  }
  if (int err = sendRequest(msg.get()); err < 0) {
    if (kindOf(err) == ErrorKind::NotFound) {
      return {};
    }
    return std::unexpected(error(err, operation, device));
  }
  return {};
}

Result<std::vector<NeighbourEntry>> Netlink::listNeighbours(std::string_view device) {
  auto index = linkIndex(device);
  if (!index) {
    return std::unexpected(index.error().withContext("list neighbours"));
  }
  std::vector<NeighbourEntry> entries;
  ndmsg request = neighbourHeader(AF_INET, 0, 0, 0);
  auto onMessage = [&](nlmsghdr* header) {
    if (header->nlmsg_type != RTM_NEWNEIGH) {
      return;
    }
    const auto* message = static_cast<const ndmsg*>(nlmsg_data(header));
    if (message->ndm_family != AF_INET || message->ndm_ifindex != *index) {
      return;
    }
    nlattr* attributes[NDA_MAX + 1] = {};
    if (nlmsg_parse(header, sizeof(ndmsg), attributes, NDA_MAX, nullptr) < 0) {
      return;
    }
    auto ip = ipv4Of(attributes[NDA_DST]);
    if (!ip) {
      return;
    }
    entries.push_back({*ip, macOf(attributes[NDA_LLADDR]).value_or(MacAddress()),
                       (message->ndm_state & NUD_PERMANENT) != 0});
  };
  if (int err =
          dump(RTM_GETNEIGH, &request, sizeof(request), onMessage, [&entries] { entries.clear(); });
      err < 0) {
    return std::unexpected(error(err, "list neighbours of", device));
  }
  std::sort(entries.begin(), entries.end());
  return entries;
}

}  // namespace overmesh::dataplane::kernel
