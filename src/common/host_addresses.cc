#include "common/host_addresses.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>

#include <algorithm>
#include <cerrno>
#include <optional>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/ip.h"

namespace overmesh {

Result<std::vector<std::string>> hostIpv4Addresses() {
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) {
    return errorf(ErrorKind::Unavailable, "getifaddrs: {}", errnoText(errno));
  }
  std::vector<std::string> addresses;
  for (ifaddrs* entry = list; entry != nullptr; entry = entry->ifa_next) {
    if (entry->ifa_addr == nullptr || entry->ifa_addr->sa_family != AF_INET) {
      continue;
    }
    if ((entry->ifa_flags & IFF_UP) == 0 || (entry->ifa_flags & IFF_LOOPBACK) != 0) {
      continue;
    }
    sockaddr_in in{};
    std::copy_n(reinterpret_cast<const char*>(entry->ifa_addr), sizeof(in),
                reinterpret_cast<char*>(&in));
    char text[INET_ADDRSTRLEN] = {};
    inet_ntop(AF_INET, &in.sin_addr, text, sizeof(text));
    if (std::find(addresses.begin(), addresses.end(), text) == addresses.end()) {
      addresses.emplace_back(text);
    }
  }
  freeifaddrs(list);
  return addresses;
}

Result<std::string> chooseAdvertiseAddress(const std::string& requested) {
  auto addresses = hostIpv4Addresses();
  if (!addresses) {
    return std::unexpected(addresses.error());
  }
  if (!requested.empty()) {
    auto parsed = Ipv4Address::parse(requested);
    if (!parsed) {
      return errorf(ErrorKind::InvalidArgument, "--advertise-addr {} is not an IPv4 address",
                    requested);
    }
    if (requested == "127.0.0.1" ||
        std::find(addresses->begin(), addresses->end(), requested) != addresses->end()) {
      return requested;
    }
    return errorf(ErrorKind::InvalidArgument,
                  "--advertise-addr {} is not an address of this host; its addresses are: {}",
                  requested, addresses->empty() ? "none" : fmt::format("{}", fmt::join(*addresses, ", ")));
  }
  if (addresses->empty()) {
    return std::string("127.0.0.1");
  }
  if (addresses->size() == 1) {
    return addresses->front();
  }
  return errorf(ErrorKind::InvalidArgument,
                "this host has several addresses ({}); choose one with --advertise-addr",
                fmt::join(*addresses, ", "));
}

Result<std::string> connectedPrefixOf(const std::string& address) {
  auto wanted = Ipv4Address::parse(address);
  if (!wanted) {
    return std::unexpected(wanted.error());
  }
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) {
    return errorf(ErrorKind::Unavailable, "getifaddrs: {}", errnoText(errno));
  }
  std::optional<std::string> found;
  for (ifaddrs* entry = list; entry != nullptr && !found; entry = entry->ifa_next) {
    if (entry->ifa_addr == nullptr || entry->ifa_addr->sa_family != AF_INET ||
        entry->ifa_netmask == nullptr || (entry->ifa_flags & IFF_UP) == 0) {
      continue;
    }
    sockaddr_in in{};
    sockaddr_in mask{};
    std::copy_n(reinterpret_cast<const char*>(entry->ifa_addr), sizeof(in),
                reinterpret_cast<char*>(&in));
    std::copy_n(reinterpret_cast<const char*>(entry->ifa_netmask), sizeof(mask),
                reinterpret_cast<char*>(&mask));
    if (ntohl(in.sin_addr.s_addr) != wanted->value()) {
      continue;
    }
    int length = __builtin_popcount(ntohl(mask.sin_addr.s_addr));
    auto prefix = Ipv4Prefix::fromParts(*wanted, length);
    if (prefix) {
      found = prefix->masked().toString();
    }
  }
  freeifaddrs(list);
  if (!found) {
    return errorf(ErrorKind::NotFound, "no interface that is up holds address {}", address);
  }
  return *found;
}

}  // namespace overmesh
