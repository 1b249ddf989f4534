#include "support/service_lb_lab.h"

#include <fmt/format.h>

#include "dataplane/linux/netlink.h"
#include "dataplane/linux/netns.h"

namespace overmesh::testing {

using dataplane::kernel::Netlink;

ServiceLbLab::ServiceLbLab(std::string prefix, int backendCount)
    : hub_(prefix + "h"), client_(prefix + "c") {
  for (int i = 0; i < backendCount; ++i) {
    backends_.push_back(fmt::format("{}b{}", prefix, i));
  }
}

ServiceLbLab::~ServiceLbLab() {
  for (const auto& ns : created_) {
    if (auto deleted = dataplane::kernel::deleteNamespace(ns); !deleted) {
      fmt::print(stderr, "service lb lab: {}\n", deleted.error().message);
    }
  }
}

Ipv4Address ServiceLbLab::clientAddress() { return Ipv4Address::parse("10.77.0.10").value(); }

Ipv4Address ServiceLbLab::backendAddress(int index) {
  return Ipv4Address::fromValue(Ipv4Address::parse("10.77.0.21").value().value() +
                                static_cast<std::uint32_t>(index));
}

namespace {

// Joins namespace `ns` to the hub's bridge through a veth (`hostSide` in the hub, eth0 in
// `ns`) and gives it `address`/24.
Status attachToBridge(Netlink& hub, const std::string& ns, const std::string& hostSide,
                      Ipv4Address address) {
  auto fd = dataplane::kernel::openNamespace(ns);
  if (!fd) {
    return std::unexpected(fd.error());
  }
  auto inner = Netlink::open(ns);
  if (!inner) {
    return std::unexpected(inner.error());
  }
  if (auto made = hub.createVethPair(hostSide, "eth0", fd->get(), 1500); !made) {
    return made;
  }
  if (auto enslaved = hub.setMaster(hostSide, "br0"); !enslaved) {
    return enslaved;
  }
  if (auto up = hub.setUp(hostSide); !up) {
    return up;
  }
  if (auto up = inner->setUp("lo"); !up) {
    return up;
  }
  if (auto added = inner->addAddress("eth0", *Ipv4Prefix::fromParts(address, 24)); !added) {
    return added;
  }
  return inner->setUp("eth0");
}

}  // namespace

Status ServiceLbLab::create() {
  std::vector<std::string> all = {hub_, client_};
  all.insert(all.end(), backends_.begin(), backends_.end());
  for (const auto& ns : all) {
    if (auto made = dataplane::kernel::createNamespace(ns); !made) {
      return made;
    }
    created_.push_back(ns);
  }
  auto hub = Netlink::open(hub_);
  if (!hub) {
    return std::unexpected(hub.error());
  }
  if (auto bridge = hub->createBridge("br0", 1500); !bridge) {
    return bridge;
  }
  if (auto up = hub->setUp("br0"); !up) {
    return up;
  }
  if (auto attached = attachToBridge(*hub, client_, "vc", clientAddress()); !attached) {
    return attached;
  }
  for (int i = 0; i < static_cast<int>(backends_.size()); ++i) {
    auto attached = attachToBridge(*hub, backends_[i], fmt::format("vb{}", i), backendAddress(i));
    if (!attached) {
      return attached;
    }
  }
  return {};
}

}  // namespace overmesh::testing
