#include "manager/published_ports.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>
#include <utility>

#include "common/ids.h"
#include "common/quote.h"

namespace overmesh::manager {
namespace {

constexpr std::int64_t kMaxPort = 65535;

// Why a node cannot give `port` to a service, or nothing when it can.
const char* reservedPortReason(const api::PortConfig& port) {
  if (port.protocol == "tcp" && port.publishedPort == kClusterApiPort) {
    return "it is the manager's cluster API port (join, heartbeats)";
  }
  if (port.protocol == "tcp" && port.publishedPort == kNodeApiPort) {
    return "it is every node's node API port (exec and logs across nodes)";
  }
  if (port.protocol == "udp" && port.publishedPort == kVxlanUdpPort) {
    return "it is the VXLAN port that carries every overlay network between the nodes";
  }
  return nullptr;
}

Status conflictError(const api::PortConfig& port, const api::Service& owner,
                     const api::PortConfig& taken) {
  if (taken.publishMode == "ingress") {
    return errorf(ErrorKind::Conflict,
                  "--publish {}: port '{}' is already in use by service '{}' ({}) as an ingress "
                  "port; choose another published port or remove it from that service",
                  describePort(port), taken.publishedPort, owner.spec.name, shortId(owner.id));
  }
  if (port.publishMode == "ingress") {
    return errorf(ErrorKind::Conflict,
                  "--publish {}: port '{}' is already in use by service '{}' ({}) as a host "
                  "port; an ingress port is opened on every node, so it cannot share a port "
                  "with any other service",
                  describePort(port), taken.publishedPort, owner.spec.name, shortId(owner.id));
  }
  return errorf(ErrorKind::Conflict,
                "--publish {}: port '{}' is already in use by service '{}' ({}) as a host port; "
                "overmesh opens a host port by DNAT on the node, so two services cannot share "
                "one (even on different nodes); choose another published port",
                describePort(port), taken.publishedPort, owner.spec.name, shortId(owner.id));
}

}  // namespace

std::string describePort(const api::PortConfig& port) {
  // The short form where it says everything (ingress mode, a known protocol), as users
  // mostly type it; the long form otherwise.
  if (port.publishMode == "ingress" && (port.protocol == "tcp" || port.protocol == "udp")) {
    std::string text = port.publishedPort == 0
                           ? fmt::format("{}", port.targetPort)
                           : fmt::format("{}:{}", port.publishedPort, port.targetPort);
    return port.protocol == "udp" ? text + "/udp" : text;
  }
  std::string published =
      port.publishedPort == 0 ? std::string() : fmt::format("published={},", port.publishedPort);
  return fmt::format("{}target={},protocol={},mode={}", published, port.targetPort,
                     printable(port.protocol, 16), printable(port.publishMode, 16));
}

bool publishesIngressPort(const std::vector<api::PortConfig>& ports) {
  return std::any_of(ports.begin(), ports.end(),
                     [](const api::PortConfig& port) { return port.publishMode == "ingress"; });
}

Status validatePorts(const std::vector<api::PortConfig>& ports) {
  if (ports.size() > kMaxPublishedPorts) {
    return errorf(ErrorKind::InvalidArgument,
                  "--publish is given {} times: a service publishes at most {} ports", ports.size(),
                  kMaxPublishedPorts);
  }
  std::map<std::pair<std::string, std::int64_t>, const api::PortConfig*> published;
  for (const auto& port : ports) {
    if (port.protocol == "sctp") {
      return errorf(ErrorKind::InvalidArgument,
                    "--publish {}: protocol sctp is not supported: use tcp or udp",
                    describePort(port));
    }
    if (port.protocol != "tcp" && port.protocol != "udp") {
      return errorf(ErrorKind::InvalidArgument,
                    "--publish {}: protocol {} is not valid: use tcp or udp", describePort(port),
                    quote(port.protocol, 16));
    }
    if (port.publishMode != "ingress" && port.publishMode != "host") {
      return errorf(ErrorKind::InvalidArgument,
                    "--publish {}: mode {} is not valid: use ingress (every node opens the "
                    "port) or host (only nodes running a task open it)",
                    describePort(port), quote(port.publishMode, 16));
    }
    if (port.targetPort < 1 || port.targetPort > kMaxPort) {
      return errorf(ErrorKind::InvalidArgument,
                    "--publish {}: target port {} is not valid: give the task's port, 1-{}",
                    describePort(port), port.targetPort, kMaxPort);
    }
    if (port.publishedPort < 0 || port.publishedPort > kMaxPort) {
      return errorf(ErrorKind::InvalidArgument,
                    "--publish {}: published port {} is not valid: give 1-{}, or leave it out "
                    "to get one from {}-{}",
                    describePort(port), port.publishedPort, kMaxPort, kFirstDynamicPort,
                    kLastDynamicPort);
    }
    if (const char* reason = reservedPortReason(port)) {
      return errorf(ErrorKind::InvalidArgument,
                    "--publish {}: port {}/{} cannot be published: {}; choose another port",
                    describePort(port), port.publishedPort, port.protocol, reason);
    }
    if (port.publishedPort == 0) {
      continue;
    }
    auto [it, inserted] = published.emplace(std::pair{port.protocol, port.publishedPort}, &port);
    if (!inserted) {
      return errorf(ErrorKind::InvalidArgument,
                    "--publish {}: published port {}/{} is given twice (also by --publish {}); "
                    "a node port leads to one target: give each published port once per "
                    "protocol",
                    describePort(port), port.publishedPort, port.protocol,
                    describePort(*it->second));
    }
  }
  return {};
}

Status checkHostPortsReachable(const std::vector<api::PortConfig>& ports,
                               const std::vector<api::ServiceAttachment>& attachments,
                               const std::vector<api::Network>& networks) {
  auto host = std::find_if(ports.begin(), ports.end(),
                           [](const api::PortConfig& port) { return port.publishMode == "host"; });
  if (host == ports.end() || attachments.empty()) {
    return {};
  }
  for (const auto& attachment : attachments) {
    auto network = std::find_if(networks.begin(), networks.end(), [&](const api::Network& n) {
      return n.id == attachment.networkId;
    });
    if (network == networks.end() || !network->internal) {
      return {};
    }
  }
  return errorf(ErrorKind::InvalidArgument,
                "--publish {}: a host-mode port reaches the task through its node's gateway "
                "bridge, which tasks whose networks are all --internal do not have; add a "
                "network that is not internal, or publish the port in ingress mode",
                describePort(*host));
}

Result<std::vector<api::PortConfig>> decidePublishedPorts(
    const std::vector<api::PortConfig>& requested, const std::vector<api::PortConfig>& previous,
    const std::string& serviceId, const std::vector<api::Service>& services) {
  // Ports other services hold, by protocol: the dynamic range skips all of them.
  std::map<std::string, std::set<std::int64_t>> taken;
  for (const auto& service : services) {
    if (service.id == serviceId) {
      continue;
    }
    for (const auto& other : service.ports) {
      taken[other.protocol].insert(other.publishedPort);
    }
  }
  auto checkConflicts = [&](const api::PortConfig& port) -> Status {
    for (const auto& service : services) {
      if (service.id == serviceId) {
        continue;
      }
      for (const auto& other : service.ports) {
        // Every pair of modes conflicts on one protocol and port (see the header).
        if (port.protocol == other.protocol && port.publishedPort == other.publishedPort) {
          return conflictError(port, service, other);
        }
      }
    }
    return {};
  };

  std::vector<api::PortConfig> decided = requested;
  // This spec's explicit ports first: a port of 0 must not be given one of them.
  for (const auto& port : decided) {
    if (port.publishedPort != 0) {
      if (auto free = checkConflicts(port); !free) {
        return std::unexpected(free.error());
      }
      taken[port.protocol].insert(port.publishedPort);
    }
  }
  // A port the service had keeps its number (each previous port serves one request).
  std::vector<bool> reused(previous.size(), false);
  for (auto& port : decided) {
    if (port.publishedPort != 0) {
      continue;
    }
    for (std::size_t i = 0; i < previous.size(); ++i) {
      const auto& before = previous[i];
      if (reused[i] || before.targetPort != port.targetPort || before.protocol != port.protocol ||
          before.publishMode != port.publishMode || before.publishedPort == 0 ||
          taken[port.protocol].contains(before.publishedPort)) {
        continue;
      }
      reused[i] = true;
      port.publishedPort = before.publishedPort;
      taken[port.protocol].insert(port.publishedPort);
      break;
    }
  }
  for (auto& port : decided) {
    if (port.publishedPort != 0) {
      continue;
    }
    auto& used = taken[port.protocol];
    std::int64_t candidate = kFirstDynamicPort;
    for (auto it = used.lower_bound(candidate); it != used.end() && *it == candidate; ++it) {
      ++candidate;
    }
    if (candidate > kLastDynamicPort) {
      return errorf(ErrorKind::FailedPrecondition,
                    "--publish {}: every port of {}-{}/{} is published already; give a "
                    "published port outside that range or remove published ports of other "
                    "services",
                    describePort(port), kFirstDynamicPort, kLastDynamicPort, port.protocol);
    }
    port.publishedPort = candidate;
    used.insert(candidate);
  }
  return decided;
}

}  // namespace overmesh::manager
