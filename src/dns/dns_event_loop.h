#pragma once

// DnsServer's event thread and everything it owns (see dns_server.h for the threading
// model). Private to src/dns: only dns_server.cc includes it.

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "dataplane/linux/netns.h"
#include "dns/dns_directory.h"
#include "dns/dns_message.h"
#include "dns/dns_server.h"

namespace overmesh::dns {

class DnsServer::Loop {
 public:
  using UniqueFd = dataplane::kernel::UniqueFd;

  // Creates epoll and the eventfd and starts the event thread in the caller's namespace
  // (forwards leave from there). Unavailable when a descriptor or the thread cannot be made.
  static Result<std::unique_ptr<Loop>> create(const DnsServerConfig& config);
  ~Loop();
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;

  // Each of these queues a change for the event thread and returns at once.
  // Serves `taskId` on `udp`/`tcp` (bound, TCP listening), replacing its earlier sockets.
  void addSandbox(std::string taskId, std::vector<std::string> networkIds, UniqueFd udp,
                  UniqueFd tcp);
  void updateNetworks(std::string taskId, std::vector<std::string> networkIds);
  // Except this one, which returns once the sandbox's sockets are closed (at most 2 s).
  void removeSandbox(std::string taskId);
  void setDirectory(std::shared_ptr<const DnsDirectory> directory);

  // Stops the event thread and closes every socket; idempotent.
  void stop();
  DnsServerStats stats() const;

 private:
  using Clock = std::chrono::steady_clock;
  using Token = std::uint64_t;

  struct Sandbox {
    std::string taskId;
    std::vector<std::string> networkIds;
    UniqueFd udp;
    UniqueFd tcp;
    Token udpToken = 0;
    Token tcpToken = 0;
    std::size_t tcpConnections = 0;
    std::size_t forwards = 0;  // in flight for this sandbox
  };

  struct TcpConnection {
    std::string taskId;
    UniqueFd fd;
    std::vector<std::uint8_t> in;
    std::vector<std::uint8_t> out;
    std::size_t outSent = 0;
    bool writing = false;  // EPOLLOUT requested
    bool closing = false;  // close once the current event is handled
    Clock::time_point lastActive;
  };

  // Where an answer goes: a UDP client of a sandbox, or a TCP connection.
  struct ReplyTo {
    Token token = 0;  // the sandbox's UDP token, or the connection's
    bool tcp = false;
    sockaddr_in client{};
  };

  struct Forward {
    // The asking sandbox's UDP token, for its forward count: a token is never reused, so a
    // forward outliving its sandbox never counts against a re-attached one.
    Token sandboxToken = 0;
    UniqueFd fd;
    std::vector<std::uint8_t> query;  // as sent upstream (our ID)
    std::uint16_t clientId = 0;
    // A client that asked over TCP is forwarded over TCP, so an answer too big for UDP
    // reaches it whole: `sent` bytes of the framed query are written, `received` holds
    // the framed answer as it arrives.
    std::size_t sent = 0;
    std::vector<std::uint8_t> received;
    std::size_t upstream = 0;  // index into upstreams_
    Clock::time_point deadline;
    ReplyTo replyTo;
  };

  // One round of UDP I/O on a sandbox's socket: up to kBatch queries read with one
  // recvmmsg() and the answers from the directory sent with one sendmmsg(), so that a busy
  // sandbox costs two system calls per batch instead of two per query.
  static constexpr std::size_t kBatch = 32;
  // Larger queries are dropped (the largest sane one is ~300 bytes plus EDNS options).
  static constexpr std::size_t kMaxQuery = 4096;
  struct UdpBatch {
    std::array<std::array<std::uint8_t, kMaxQuery>, kBatch> in;
    std::array<sockaddr_in, kBatch> from;
    std::array<iovec, kBatch> inVectors;
    std::array<mmsghdr, kBatch> inHeaders;
    std::array<std::vector<std::uint8_t>, kBatch> out;
    std::array<sockaddr_in, kBatch> to;
    std::array<iovec, kBatch> outVectors;
    std::array<mmsghdr, kBatch> outHeaders;
    std::size_t pending = 0;  // answers in out[0..pending)
    Token token = 0;          // the sandbox being read; 0 outside readUdp
  };

  Loop(const DnsServerConfig& config, UniqueFd epoll, UniqueFd wake);

  // Thread: the event thread. Returns when stop() is called.
  void run();
  void post(std::function<void()> change);
  void runQueued();

  Token newToken(int kind);
  bool watch(int fd, Token token, std::uint32_t events);
  void dropSandbox(const std::string& taskId);

  void readUdp(Sandbox& sandbox);
  void acceptTcp(Sandbox& sandbox);
  void readTcp(Token token, TcpConnection& connection);
  void flushTcp(Token token, TcpConnection& connection);
  void closeTcp(Token token);

  // Answers one query from `sandbox` or starts forwarding it.
  void handleQuery(Sandbox& sandbox, std::span<const std::uint8_t> message, const ReplyTo& replyTo);
  void deliver(const ReplyTo& replyTo, std::span<const std::uint8_t> answer);
  void startForward(Sandbox& sandbox, std::span<const std::uint8_t> message, const DnsQuery& query,
                    const ReplyTo& replyTo);
  // Forgets a forward (closing its socket) and returns where its answer would have gone.
  ReplyTo finishForward(Token token);
  bool sendUpstream(Token token, Forward& forward, std::size_t firstUpstream);
  void readForward(Token token, Forward& forward);
  void serveTcpForward(Token token, Forward& forward, std::uint32_t events);
  // Moves a forward to the next upstream, or answers SERVFAIL when there is none.
  void nextUpstream(Token token, Forward& forward);
  // Sends a forward's answer (our ID in `reply` is replaced by the client's) and forgets it.
  void answerForward(Token token, Forward& forward, std::span<std::uint8_t> reply);
  void failForward(Token token, Forward& forward);
  void expire(Clock::time_point now);
  void reloadUpstreams();

  const DnsServerConfig config_;
  UniqueFd epoll_;
  UniqueFd wake_;
  // A descriptor kept open to give back when accept() fails with EMFILE/ENFILE: the
  // pending connection is then accepted and closed at once. Without it a level-triggered
  // listener with a connection it cannot accept would wake the loop forever.
  UniqueFd spare_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};

  std::mutex queueMutex_;
  std::vector<std::function<void()>> queue_;  // guarded by queueMutex_

  // Everything below: event thread only.
  std::shared_ptr<const DnsDirectory> directory_;
  SplitMixRandom random_;
  Token nextToken_ = 1;
  std::unordered_map<std::string, std::unique_ptr<Sandbox>> sandboxes_;  // by task ID
  std::unordered_map<Token, Sandbox*> byToken_;                          // UDP and listener tokens
  std::unordered_map<Token, std::unique_ptr<TcpConnection>> connections_;
  std::unordered_map<Token, std::unique_ptr<Forward>> forwards_;
  std::vector<sockaddr_in> upstreams_;
  struct timespec resolvConfMtime_ {};
  ino_t resolvConfInode_ = 0;
  off_t resolvConfSize_ = -1;
  Clock::time_point nextUpstreamCheck_;
  std::vector<std::uint32_t> addresses_;  // scratch for lookups
  std::vector<std::uint8_t> answer_;      // scratch for answers
  std::unique_ptr<UdpBatch> batch_ = std::make_unique<UdpBatch>();

  std::atomic<std::uint64_t> answered_{0};
  std::atomic<std::uint64_t> forwarded_{0};
  std::atomic<std::uint64_t> servfail_{0};
  std::atomic<std::uint64_t> malformed_{0};
};

}  // namespace overmesh::dns
