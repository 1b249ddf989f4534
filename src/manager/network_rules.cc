#include "manager/network_rules.h"

#include <charconv>

#include <algorithm>
#include <cctype>
#include <map>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/object_name.h"
#include "common/quote.h"

namespace overmesh::manager {

Status validateObjectName(std::string_view kind, const std::string& name) {
  if (name.empty()) {
    return errorf(ErrorKind::InvalidArgument, "{} name is required", kind);
  }
  if (name.size() > 63) {
    return errorf(ErrorKind::InvalidArgument,
                  "{} name {} is {} characters long: at most 63 are allowed", kind, quote(name),
                  name.size());
  }
  if (!isValidObjectName(name)) {  // common/object_name.h: the one rule, shared with stack/
    return errorf(ErrorKind::InvalidArgument,
                  "{} name {} is not valid: use letters, digits, '_', '.' and '-', starting "
                  "with a letter or digit",
                  kind, quote(name));
  }
  return {};
}

Status validateNetworkOption(const std::string& key, const std::string& value) {
  if (key == api::kNetworkMtuOption) {
    std::int64_t mtu = 0;
    auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), mtu);
    if (error != std::errc() || end != value.data() + value.size() || mtu < kMinNetworkMtu ||
        mtu > kMaxNetworkMtu) {
      return errorf(ErrorKind::InvalidArgument,
                    "network option {}: the MTU must be a whole number from {} to {} (the "
                    "nodes use the smaller of it and their underlay MTU minus VXLAN's 50 bytes)",
                    quote(key + "=" + value), kMinNetworkMtu, kMaxNetworkMtu);
    }
    return {};
  }
  if (key == "encrypted") {
    return errorf(ErrorKind::InvalidArgument,
                  "network option {} is not supported: overmesh does not encrypt overlay "
                  "traffic yet (Docker uses IPsec ESP, which this kernel lacks); leave it out",
                  quote(key + "=" + value));
  }
  return errorf(ErrorKind::InvalidArgument,
                "network option {} is not supported by the overlay driver: the one option "
                "overmesh honours is {}=BYTES",
                quote(key + "=" + value), api::kNetworkMtuOption);
}

Status validateNetworkCreate(const api::NetworkCreateRequest& request) {
  if (auto valid = validateObjectName("network", request.name); !valid) {
    return valid;
  }
  if (request.driver != "overlay") {
    return errorf(ErrorKind::InvalidArgument,
                  "network driver {} is not supported: overmesh networks use the \"overlay\" "
                  "driver (-d overlay)",
                  quote(request.driver));
  }
  for (const auto& [key, value] : request.labels) {
    if (key.empty()) {
      return errorf(ErrorKind::InvalidArgument, "label {} has an empty key: labels are key=value",
                    quote("=" + value));
    }
  }
  for (const auto& [key, value] : request.options) {
    if (auto valid = validateNetworkOption(key, value); !valid) {
      return valid;
    }
  }
  if (request.ingress && request.attachable) {
    return errorf(ErrorKind::InvalidArgument,
                  "--attachable cannot be used with --ingress: no task joins the ingress "
                  "network by name; tasks join it by publishing a port (service create "
                  "--publish)");
  }
  if (request.gateway && !request.subnet) {
    return errorf(ErrorKind::InvalidArgument,
                  "gateway {} was given without a subnet: --gateway needs --subnet",
                  *request.gateway);
  }
  return {};
}

std::vector<ipam::AvoidedRange> hostNetworksOf(const std::vector<api::Node>& nodes) {
  // (is gateway subnet, prefix) → hostnames, so each range is reported once.
  std::map<std::pair<bool, Ipv4Prefix>, std::vector<std::string>> users;
  for (const api::Node& node : nodes) {
    for (bool gateway : {false, true}) {
      const std::string& text = gateway ? node.gatewaySubnet : node.underlayPrefix;
      auto prefix = Ipv4Prefix::parse(text);
      if (!text.empty() && prefix) {
        users[{gateway, prefix->masked()}].push_back(node.hostname);
      }
    }
  }
  std::vector<ipam::AvoidedRange> ranges;
  for (auto& [key, hostnames] : users) {
    std::sort(hostnames.begin(), hostnames.end());  // stable messages, whatever the IDs
    const auto& [gateway, prefix] = key;
    std::string who = fmt::format("{} {}", hostnames.size() == 1 ? "node" : "nodes",
                                  fmt::join(hostnames, ", "));
    ranges.push_back(
        {prefix,
         gateway ? fmt::format("the gateway-bridge subnet {} of {} (overmeshd --gateway-subnet)",
                               prefix, who)
                 : fmt::format("the underlay network {} of {}", prefix, who),
         true});
  }
  return ranges;
}

Status checkJoiningNode(const std::string& underlayPrefix, const std::string& advertiseAddress,
                        const std::string& gatewaySubnet,
                        const std::vector<ipam::ExistingNetwork>& networks) {
  struct Owned {
    const std::string& text;
    std::string what;
    std::string remedy;
  };
  const Owned owned[] = {
      {underlayPrefix,
       fmt::format("this node's underlay network {} (of its advertise address {})",
                   underlayPrefix, advertiseAddress),
       "remove that network first, or join with an advertise address on another network"},
      {gatewaySubnet,
       fmt::format("this node's gateway-bridge subnet {} (overmeshd --gateway-subnet)",
                   gatewaySubnet),
       "start overmeshd with a --gateway-subnet outside every network's subnet"},
  };
  for (const Owned& range : owned) {
    if (range.text.empty()) {
      continue;
    }
    auto prefix = Ipv4Prefix::parse(range.text);
    if (!prefix) {
      return errorf(ErrorKind::InvalidArgument, "{} is not a prefix: {}", range.what,
                    prefix.error().message);
    }
    for (const ipam::ExistingNetwork& network : networks) {
      if (prefix->overlaps(network.subnet)) {
        return errorf(ErrorKind::Conflict, "{} overlaps network {} ({}); {}", range.what,
                      network.name, network.subnet, range.remedy);
      }
    }
  }
  return {};
}

}  // namespace overmesh::manager
