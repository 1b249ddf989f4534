#pragma once

// The embedded resolver's I/O: sockets on 127.0.0.11:53 in every attached sandbox, one
// event thread (epoll) serving them all, answers from the DnsDirectory, and forwarding of
// the other names to the node's resolvers.
//
// Threads:
// - the event thread (started by start(), joined by the destructor) owns every socket, the
//   directory in use, TCP connections and forwards in flight; nothing else touches them.
// - attachSandbox() opens a sandbox's sockets on a short-lived thread that enters the
//   sandbox's namespace (setns) and exits, so no long-lived thread ever changes namespace;
//   a socket keeps its namespace wherever it is used from.
// - API calls (attach, detach, setDirectory) hand their change to the event thread through
//   a queue guarded by a mutex and wake it through an eventfd; detach waits (at most 2 s)
//   until the sockets are closed, so a re-attach can bind again at once.
//
// Forwarding happens from the namespace of the thread that called start() (overmeshd's:
// the node's), with one connected socket per forward and a random ID: UDP for a query that
// came over UDP (the kernel picks a random source port, so an off-path answer has to guess
// both; the upstream's TC passes through and the client retries over TCP), TCP for one
// that came over TCP.

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/error.h"
#include "dns/embedded_dns.h"

namespace overmesh::dns {

struct DnsServerConfig {
  // The node's resolvers (nameserver lines). Re-read within a second when it changes; a
  // missing or empty file means no upstream: unknown names get SERVFAIL at once.
  std::string resolvConfPath = "/etc/resolv.conf";
  // How long one upstream gets to answer before the next one is asked.
  std::chrono::milliseconds upstreamTimeout{1000};
  // A TCP connection that sends nothing for this long is closed.
  std::chrono::milliseconds tcpIdleTimeout{10000};
  // Beyond this many open TCP connections a sandbox's new ones are closed at once.
  std::size_t maxTcpConnectionsPerSandbox = 16;
  // Beyond this many forwards waiting for an upstream, new ones get SERVFAIL at once.
  std::size_t maxForwardsInFlight = 256;
  // Beyond this many of one sandbox's forwards in flight, its new ones get SERVFAIL.
  std::size_t maxForwardsPerSandbox = 64;
  // Seed of the answer shuffle; 0 = from std::random_device.
  std::uint64_t randomSeed = 0;
  // Where each sandbox is answered. Tests and benchmarks only change the port.
  std::string listenAddress = "127.0.0.11";
  std::uint16_t listenPort = 53;
};

// Counters for tests and logs; read with DnsServer::stats().
struct DnsServerStats {
  std::uint64_t answered = 0;   // answers from the directory (incl. NXDOMAIN, NODATA)
  std::uint64_t forwarded = 0;  // queries sent to an upstream
  std::uint64_t servfail = 0;   // SERVFAIL sent (no upstream, all timed out, overloaded)
  std::uint64_t malformed = 0;  // FORMERR/NOTIMP sent or query dropped
};

class DnsServer final : public EmbeddedDns {
 public:
  // Starts the event thread. Fails with Unavailable when epoll or the eventfd cannot be
  // created, InvalidArgument when listenAddress is not an IPv4 address.
  static Result<std::unique_ptr<DnsServer>> start(DnsServerConfig config);

  ~DnsServer() override;  // stop(): closes every socket, joins the event thread
  DnsServer(const DnsServer&) = delete;
  DnsServer& operator=(const DnsServer&) = delete;

  // Fails with InvalidArgument on an empty taskId, NotFound when netnsPath does not exist,
  // Unavailable when entering the namespace or binding fails (EADDRINUSE: something else
  // serves port 53 there). lo must be up for queries to arrive, though binding succeeds
  // without it. On failure the sandbox's previous sockets, if any, keep working.
  Status attachSandbox(const std::string& taskId, const std::string& netnsPath,
                       const std::vector<std::string>& networkIds) override;
  void detachSandbox(const std::string& taskId) override;
  void setDirectory(std::shared_ptr<const DnsDirectory> directory) override;

  // Stops answering and joins the event thread; idempotent.
  void stop();

  DnsServerStats stats() const;

 private:
  class Loop;
  explicit DnsServer(std::unique_ptr<Loop> loop, DnsServerConfig config);

  DnsServerConfig config_;
  std::unique_ptr<Loop> loop_;
  std::mutex attachMutex_;  // serializes attach/detach; guards attached_
  std::unordered_map<std::string, std::string> attached_;  // taskId -> netnsPath
};

}  // namespace overmesh::dns
