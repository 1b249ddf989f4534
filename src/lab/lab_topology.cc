// The lab's kernel objects: its network namespaces (the underlay with its bridge, one per
// host, one per client), the veth links between them, and the pins that keep each host's UTS
// namespace (its hostname) alive between daemons. All link work goes through libnl (netlink.h).

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include "lab/lab_internal.h"

namespace overmesh::lab::internal {

namespace fs = std::filesystem;
namespace kernel = dataplane::kernel;
using kernel::Netlink;
using kernel::UniqueFd;

Result<std::vector<std::string>> labNamespaces(const std::string& name) {
  auto all = kernel::listNamespaces(name + "-");
  if (!all) {
    return std::unexpected(all.error());
  }
  std::vector<std::string> ours;
  for (const auto& candidate : *all) {
    if (isLabNamespace(name, candidate)) {
      ours.push_back(candidate);
    }
  }
  return ours;
}

Status buildUnderlay(const std::string& name) {
  std::string underlay = underlayNamespace(name);
  if (auto made = kernel::createNamespace(underlay); !made) {
    return made;
  }
  auto netlink = Netlink::open(underlay);
  if (!netlink) {
    return std::unexpected(netlink.error());
  }
  if (auto bridge = netlink->createBridge(kUnderlayBridge, kUnderlayMtu); !bridge) {
    return bridge;
  }
  return netlink->setUp(kUnderlayBridge);
}

namespace {

// A namespace `namespaceName` on the underlay: veth pair `port` (on br0) <-> eth0 there,
// `address`/24 on eth0, lo and both ends up. No default route: the underlay subnet is all
// it reaches.
Status buildUnderlayMember(Netlink& underlay, const std::string& namespaceName,
                           const std::string& port, const std::string& address) {
  if (auto made = kernel::createNamespace(namespaceName); !made) {
    return made;
  }
  auto memberFd = kernel::openNamespace(namespaceName);
  if (!memberFd) {
    return std::unexpected(memberFd.error());
  }
  if (auto pair = underlay.createVethPair(port, "eth0", memberFd->get(), kUnderlayMtu); !pair) {
    return pair;
  }
  if (auto bridged = underlay.setMaster(port, kUnderlayBridge); !bridged) {
    return bridged;
  }
  if (auto up = underlay.setUp(port); !up) {
    return up;
  }
  auto netlink = Netlink::open(namespaceName);
  if (!netlink) {
    return std::unexpected(netlink.error());
  }
  if (auto lo = netlink->setUp("lo"); !lo) {
    return lo;
  }
  auto prefix = Ipv4Prefix::fromParts(Ipv4Address::parse(address).value_or(Ipv4Address()),
                                      kUnderlayPrefixLength);
  if (!prefix) {
    return std::unexpected(prefix.error());
  }
  if (auto added = netlink->addAddress("eth0", *prefix); !added) {
    return added;
  }
  return netlink->setUp("eth0");
}

}  // namespace

Status buildHost(Netlink& underlay, const LabHost& host) {
  return buildUnderlayMember(underlay, host.namespaceName, host.name, host.address);
}

Status buildClient(Netlink& underlay, const LabClient& client) {
  std::error_code error;
  fs::create_directories(client.dir, error);
  if (error) {
    return errorf(ErrorKind::Unavailable, "create {}: {}", client.dir, error.message());
  }
  return buildUnderlayMember(underlay, client.namespaceName, client.name, client.address);
}

Status buildEtcdMember(Netlink& underlay, const LabEtcdMember& member) {
  std::error_code error;
  fs::create_directories(member.dir, error);
  if (error) {
    return errorf(ErrorKind::Unavailable, "create {}: {}", member.dir, error.message());
  }
  // Port e<i> on the bridge: "etcd<i>" names the member, not a device.
  return buildUnderlayMember(underlay, member.namespaceName, fmt::format("e{}", member.index),
                             member.address);
}

Status pinUtsNamespace(pid_t pid, const std::string& hostDir) {
  std::string pin = utsPinPath(hostDir);
  int pinFd = open(pin.c_str(), O_RDONLY | O_CREAT | O_CLOEXEC, 0644);
  if (pinFd < 0) {
    return errorf(ErrorKind::Unavailable, "create {}: {}", pin, errnoText(errno));
  }
  close(pinFd);
  std::string source = fmt::format("/proc/{}/ns/uts", pid);
  if (mount(source.c_str(), pin.c_str(), "none", MS_BIND, nullptr) != 0) {
    return errorf(ErrorKind::Unavailable, "bind-mount {} onto {}: {}", source, pin,
                  errnoText(errno));
  }
  return {};
}

UniqueFd openPinnedUts(const std::string& hostDir) {
  std::string pin = utsPinPath(hostDir);
  UniqueFd fd(open(pin.c_str(), O_RDONLY | O_CLOEXEC));
  struct statfs info {};
  // Before the bind mount (or after a failed one) the pin is an empty regular file.
  if (!fd.valid() || fstatfs(fd.get(), &info) != 0 || info.f_type != NSFS_MAGIC) {
    return UniqueFd();
  }
  return fd;
}

std::vector<std::string> unpinUtsNamespaces(const std::string& dir) {
  std::vector<std::string> failures;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(dir, error)) {
    std::string pin = utsPinPath(entry.path().string());
    if (umount2(pin.c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT &&
        errno != ENOTDIR) {
      failures.push_back(fmt::format("unmount {}: {}", pin, errnoText(errno)));
    }
  }
  return failures;
}

}  // namespace overmesh::lab::internal
