#include "dns/dns_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>
#include <thread>

#include "common/ip.h"
#include "dataplane/linux/netns.h"
#include "dns/dns_event_loop.h"

namespace overmesh::dns {

namespace {

using dataplane::kernel::NamespaceSwitch;
using dataplane::kernel::UniqueFd;

struct SandboxSockets {
  UniqueFd udp;
  UniqueFd tcp;
};

// How many TCP connections may wait in a sandbox's accept queue.
constexpr int kListenBacklog = 64;
// Receive buffer of a sandbox's UDP socket: room for a burst of ~1000 queries (each costs
// about 1 KiB of buffer in the kernel) while the event thread serves other sandboxes. The
// memory is only used while queries wait.
constexpr int kUdpReceiveBuffer = 1 << 20;

Result<UniqueFd> boundSocket(int type, const sockaddr_in& address, const std::string& where) {
  UniqueFd fd(socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) {
    return errorf(ErrorKind::Unavailable, "dns: socket in {}: {}", where, errnoText(errno));
  }
  int one = 1;
  // TCP: a sandbox re-attached right after a detach must not wait for TIME_WAIT.
  if (setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0) {
    return errorf(ErrorKind::Unavailable, "dns: SO_REUSEADDR in {}: {}", where, errnoText(errno));
  }
  if (bind(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
    int err = errno;
    char text[INET_ADDRSTRLEN] = {};
    inet_ntop(AF_INET, &address.sin_addr, text, sizeof(text));
    return errorf(ErrorKind::Unavailable, "dns: bind {}:{} ({}) in {}: {}{}", text,
                  ntohs(address.sin_port), type == SOCK_DGRAM ? "udp" : "tcp", where,
                  errnoText(err), err == EADDRNOTAVAIL ? " (is lo up there?)" : "");
  }
  if (type == SOCK_DGRAM) {
    // FORCE (root, which overmeshd is) passes net.core.rmem_max; else the kernel caps it.
    // Either way a smaller buffer only means more drops under a burst: not an error.
    if (setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUFFORCE, &kUdpReceiveBuffer,
                   sizeof(kUdpReceiveBuffer)) != 0) {
      setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &kUdpReceiveBuffer, sizeof(kUdpReceiveBuffer));
    }
  }
  if (type == SOCK_STREAM && listen(fd.get(), kListenBacklog) != 0) {
    return errorf(ErrorKind::Unavailable, "dns: listen in {}: {}", where, errnoText(errno));
  }
  return fd;
}

// Opens the UDP and TCP sockets inside the namespace at `netnsPath`, from a short-lived
// thread that enters it: the caller's thread never changes namespace.
Result<SandboxSockets> openSandboxSockets(const std::string& netnsPath,
                                          const sockaddr_in& address) {
  UniqueFd ns(open(netnsPath.c_str(), O_RDONLY | O_CLOEXEC));
  if (!ns.valid()) {
    int err = errno;
    return errorf(err == ENOENT ? ErrorKind::NotFound : ErrorKind::Unavailable,
                  "dns: cannot open network namespace {}: {}", netnsPath, errnoText(err));
  }
  Result<SandboxSockets> result = errorf(ErrorKind::Internal, "dns: socket thread did not run");
  try {
    std::thread opener([&] {
      // Thread: lives only to open one sandbox's sockets inside its namespace.
      auto inside = NamespaceSwitch::enter(ns.get(), netnsPath);
      if (!inside) {
        result = std::unexpected(inside.error());
        return;
      }
      auto udp = boundSocket(SOCK_DGRAM, address, netnsPath);
      if (!udp) {
        result = std::unexpected(udp.error());
        return;
      }
      auto tcp = boundSocket(SOCK_STREAM, address, netnsPath);
      if (!tcp) {
        result = std::unexpected(tcp.error());
        return;
      }
      result = SandboxSockets{std::move(*udp), std::move(*tcp)};
    });
    opener.join();
  } catch (const std::system_error& error) {
    return errorf(ErrorKind::Unavailable, "dns: cannot start a thread for {}: {}", netnsPath,
                  error.what());
  }
  return result;
}

}  // namespace

Result<std::unique_ptr<DnsServer>> DnsServer::start(DnsServerConfig config) {
  if (!Ipv4Address::parse(config.listenAddress)) {
    return errorf(ErrorKind::InvalidArgument,
                  "dns server: listenAddress {:?} is not an IPv4 address (e.g. 127.0.0.11)",
                  config.listenAddress);
  }
  auto loop = Loop::create(config);
  if (!loop) {
    return std::unexpected(loop.error());
  }
  return std::unique_ptr<DnsServer>(new DnsServer(std::move(*loop), std::move(config)));
}

DnsServer::DnsServer(std::unique_ptr<Loop> loop, DnsServerConfig config)
    : config_(std::move(config)), loop_(std::move(loop)) {}

DnsServer::~DnsServer() { stop(); }

void DnsServer::stop() { loop_->stop(); }

DnsServerStats DnsServer::stats() const { return loop_->stats(); }

Status DnsServer::attachSandbox(const std::string& taskId, const std::string& netnsPath,
                                const std::vector<std::string>& networkIds) {
  if (taskId.empty()) {
    return errorf(ErrorKind::InvalidArgument, "dns: attachSandbox needs a task ID (got \"\")");
  }
  std::lock_guard lock(attachMutex_);
  if (auto it = attached_.find(taskId); it != attached_.end() && it->second == netnsPath) {
    loop_->updateNetworks(taskId, networkIds);
    return {};
  }
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(config_.listenPort);
  address.sin_addr.s_addr = htonl(Ipv4Address::parse(config_.listenAddress)->value());
  auto sockets = openSandboxSockets(netnsPath, address);
  if (!sockets) {
    return std::unexpected(sockets.error().withContext(fmt::format("task {}", taskId)));
  }
  loop_->addSandbox(taskId, networkIds, std::move(sockets->udp), std::move(sockets->tcp));
  attached_[taskId] = netnsPath;
  spdlog::info("dns: answering for task {} in {} on {} network(s)", taskId, netnsPath,
               networkIds.size());
  return {};
}

void DnsServer::detachSandbox(const std::string& taskId) {
  std::lock_guard lock(attachMutex_);
  if (attached_.erase(taskId) != 0) {
    loop_->removeSandbox(taskId);
    spdlog::info("dns: stopped answering for task {}", taskId);
  }
}

void DnsServer::setDirectory(std::shared_ptr<const DnsDirectory> directory) {
  loop_->setDirectory(std::move(directory));
}

}  // namespace overmesh::dns
