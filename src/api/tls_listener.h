#pragma once

// The TLS side of HttpServer::listenTls: accepts TCP connections, does each one's TLS 1.3
// handshake with OpenSSL (not libmicrohttpd's GnuTLS, so that the client-certificate and
// join rules are ours), and relays the decrypted bytes over a socketpair to the
// libmicrohttpd daemon that serves the HTTP (handed over through `Handoff`).
//
// Threads: one event-loop thread (epoll) does everything for every connection: the
// non-blocking accept, the non-blocking handshakes with their deadlines, the admission,
// the hand-off and the relay (api/tls_relay.h). No thread per connection; descriptors
// per connection: the TCP socket and our end of the socketpair (the other end is the
// HTTP server's). The server learns a connection's verified peer through takeIdentity(),
// keyed by the descriptor it was handed.

#include <netinet/in.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <thread>
#include <utility>

#include "api/tls.h"
#include "api/tls_context.h"
#include "common/error.h"

namespace overmesh::api {

class TlsListener {
 public:
  // Gives the plain side of a connection (a connected unix stream socket) to the HTTP
  // server, with the TCP peer's address. The callee owns `fd` from then on, also when it
  // fails (it closes it then): libmicrohttpd's MHD_add_connection does exactly that.
  // Called on the listener's loop thread: it must not block.
  using Handoff = std::function<bool(int fd, const sockaddr_in& peer)>;

  // Takes `listenFd` (a listening TCP socket) and starts the loop thread. At most
  // `maxConnections` member connections (a verified certificate) at once, and besides
  // them options.maxUnverifiedConnections (maxUnverifiedPerAddress from one address)
  // handshaking or join connections: past a cap a new connection is closed at once.
  // options.config and options.admit run on the loop thread (they must be fast).
  // Fails when the epoll or eventfd descriptors or the thread cannot be made
  // (`listenFd` is closed then).
  static Result<std::unique_ptr<TlsListener>> start(int listenFd, TlsListenOptions options,
                                                    unsigned int maxConnections, Handoff handoff);
  ~TlsListener();
  TlsListener(const TlsListener&) = delete;
  TlsListener& operator=(const TlsListener&) = delete;

  // Stops accepting (closes the listening socket); connections go on. Returns once the
  // socket is closed.
  void stopAccepting();
  // Stops accepting, ends every connection (closing its sockets) and joins the loop
  // thread. Idempotent.
  void stop();
  // From now on no connection is handed to the HTTP server (a handshake that finishes
  // later is closed), and waits for a hand-off in progress: call it before the HTTP
  // server behind the hand-off is stopped (libmicrohttpd aborts the process when a
  // connection is added to a daemon being stopped: "Failed to lock mutex").
  void closeHandoff();

  // Shuts down the TCP connection of every open connection whose peer `which` selects
  // (join connections included, with an empty nodeId); returns how many. Any thread:
  // the clients see their connections end within the call; the loop then frees them.
  std::size_t closeConnections(const std::function<bool(const PeerIdentity&)>& which);

  // The verified peer of the connection handed over as `fd`, taken once (the server
  // calls it when libmicrohttpd starts the connection). Null when unknown.
  std::shared_ptr<const PeerIdentity> takeIdentity(int fd);

  // Connections open or handshaking (tests, and the connection bound).
  std::size_t connectionCount() const;

  struct Connection;

 private:
  using Clock = std::chrono::steady_clock;

  TlsListener(int listenFd, int epollFd, int wakeFd, TlsListenOptions options,
              unsigned int maxConnections, Handoff handoff);

  // The loop thread's body and its steps; all of them run on the loop thread only.
  void loop();
  void acceptReady(Clock::time_point now);
  void accepted(int fd, const sockaddr_in& peer, Clock::time_point now);
  void serviceConnection(Connection& connection, std::uint32_t events, bool plainSide,
                         Clock::time_point now);
  void handshakeStep(Connection& connection, Clock::time_point now);
  void established(Connection& connection, Clock::time_point now);
  void beginLingering(Connection& connection, Clock::time_point now);
  void pumpRelay(Connection& connection, Clock::time_point now);
  void expire(Clock::time_point now);
  // Points the epoll interest of `connection`'s sockets and its deadline at what its
  // phase waits for.
  void watch(Connection& connection, std::uint32_t tcpEvents, std::uint32_t plainEvents,
             std::optional<Clock::time_point> deadline);
  // Ends a connection: frees its SSL, closes its sockets, forgets it. Its Connection is
  // gone once this returns: callers return at once.
  void end(std::uint64_t serial);
  // A step threw: logs it and ends the connection.
  void failed(std::uint64_t serial, const std::exception& error);
  // Runs queued calls (stopAccepting) and reads the wake-up eventfd.
  void runQueued();
  // Runs `task` on the loop thread and waits for it; runs it here when the loop does not
  // run (not started, or ended).
  void runOnLoop(const std::function<void()>& task);
  void closeListenSocket();

  // The SSL_CTX of the current configuration, rebuilt when config() hands out a new one.
  std::shared_ptr<SSL_CTX> currentContext();
  // Why a new connection from `address` may not open (the unverified pool is full), or
  // nullopt. Under mutex_.
  std::optional<std::string> unverifiedCapReached(const std::string& address) const;
  // options_.admit, with anything it throws logged and taken as a refusal.
  bool admits(const PeerIdentity& identity) const;

  int listenFd_;  // loop thread (or the caller once the loop ended); -1 once closed
  int epollFd_;
  int wakeFd_;  // eventfd: a queued call or stop() wakes the loop
  TlsListenOptions options_;
  unsigned int maxConnections_;
  Handoff handoff_;
  std::shared_mutex handoffMutex_;  // shared while handing off, exclusive to close
  bool handoffClosed_ = false;      // guarded by handoffMutex_
  std::thread loopThread_;
  std::atomic<bool> stopping_{false};
  std::uint64_t nextSerial_ = 1;  // loop thread

  // Loop thread only: the deadlines (handshake, linger, stall) by time, and when accept
  // may resume after running out of descriptors.
  std::set<std::pair<Clock::time_point, std::uint64_t>> deadlines_;
  std::optional<Clock::time_point> acceptPausedUntil_;
  std::unique_ptr<char[]> scratch_;  // one relay buffer shared by every connection

  struct QueuedCall {
    std::function<void()> task;
    std::shared_ptr<bool> done;  // guarded by queueMutex_
  };
  std::mutex queueMutex_;  // guards the three below
  std::condition_variable queueDone_;
  std::deque<QueuedCall> queue_;
  bool loopRunning_ = false;

  // Guards everything below. The loop thread is the only one that adds or removes
  // connections (under the mutex); it reads connections_ without it.
  mutable std::mutex mutex_;
  std::map<std::uint64_t, std::shared_ptr<Connection>> connections_;
  unsigned int memberCount_ = 0;  // connections_ with `member` set
  unsigned int unverifiedCount_ = 0;  // the others
  std::map<std::string, unsigned int> unverifiedByAddress_;
  // Identities handed over and not yet taken, by plain descriptor; the serial guards
  // against a descriptor number reused by another connection.
  struct PendingIdentity {
    std::uint64_t serial;
    std::shared_ptr<const PeerIdentity> identity;
  };
  std::map<int, PendingIdentity> pendingIdentities_;
  std::shared_ptr<const TlsServerConfig> contextConfig_;  // loop thread
  std::shared_ptr<SSL_CTX> context_;                      // loop thread
};

}  // namespace overmesh::api

namespace overmesh::api {

struct HttpRequest;
struct HttpResponse;

// A join connection (PeerIdentity::join: no client certificate) may only
// fetch the CA (GET kCaPath) and join (POST kJoinPath): for anything else, the 401 to
// send instead. nullopt: the request may go on.
std::optional<HttpResponse> refuseOnJoinConnection(const HttpRequest& request);

}  // namespace overmesh::api
