#pragma once

// The TLS side of HttpServer::listenTls: accepts TCP connections, does each one's TLS 1.3
// handshake with OpenSSL (not libmicrohttpd's GnuTLS, so that the client-certificate and
// join rules are ours), and relays the decrypted bytes over a socketpair to the
// libmicrohttpd daemon that serves the HTTP (handed over through `Handoff`).
//
// Threads: one accept thread; per connection one thread doing the handshake and then the
// relay. The server learns a connection's verified peer through identityOf(), keyed by the
// descriptor it was handed.

#include <netinet/in.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include "api/tls.h"
#include "api/tls_context.h"
#include "common/error.h"

namespace overmesh::api {

class TlsListener {
 public:
  // Gives the plain side of a connection (a connected unix stream socket) to the HTTP
  // server, with the TCP peer's address. The callee owns `fd` from then on, also when it
  // fails (it closes it then): libmicrohttpd's MHD_add_connection does exactly that.
  using Handoff = std::function<bool(int fd, const sockaddr_in& peer)>;

  // Takes `listenFd` (a listening TCP socket) and starts the accept thread. At most
  // `maxConnections` member connections (a verified certificate) at once, and besides
  // them options.maxUnverifiedConnections (maxUnverifiedPerAddress from one address)
  // handshaking or join connections: past a cap a new connection is closed at once.
  // Fails when the eventfd or the thread cannot be made (`listenFd` is closed then).
  static Result<std::unique_ptr<TlsListener>> start(int listenFd, TlsListenOptions options,
                                                    unsigned int maxConnections, Handoff handoff);
  ~TlsListener();
  TlsListener(const TlsListener&) = delete;
  TlsListener& operator=(const TlsListener&) = delete;

  // Stops accepting (closes the listening socket); connections go on.
  void stopAccepting();
  // Stops accepting, ends every connection's relay and joins every thread. Idempotent.
  void stop();
  // From now on no connection is handed to the HTTP server (a handshake that finishes
  // later is closed), and waits for a hand-off in progress: call it before the HTTP
  // server behind the hand-off is stopped (libmicrohttpd aborts the process when a
  // connection is added to a daemon being stopped: "Failed to lock mutex").
  void closeHandoff();

  // Shuts down the TCP connection of every open connection whose peer `which` selects
  // (join connections included, with an empty nodeId); returns how many.
  std::size_t closeConnections(const std::function<bool(const PeerIdentity&)>& which);

  // The verified peer of the connection handed over as `fd`, taken once (the server
  // calls it when libmicrohttpd starts the connection). Null when unknown.
  std::shared_ptr<const PeerIdentity> takeIdentity(int fd);

  // Connections open or handshaking (tests, and the connection bound).
  std::size_t connectionCount() const;

  struct Connection;

 private:
  TlsListener(int listenFd, int stopFd, TlsListenOptions options, unsigned int maxConnections,
              Handoff handoff);
  void acceptLoop();
  void serve(const std::shared_ptr<Connection>& connection);
  bool handshake(Connection& connection, SSL* ssl);
  // The SSL_CTX of the current configuration, rebuilt when config() hands out a new one.
  std::shared_ptr<SSL_CTX> currentContext();
  void reapFinished();
  // Why a new connection from `address` may not open (the unverified pool is full), or
  // nullopt. Under mutex_.
  std::optional<std::string> unverifiedCapReached(const std::string& address) const;
  // options_.admit, with anything it throws logged and taken as a refusal.
  bool admits(const PeerIdentity& identity) const;
  void finish(std::uint64_t serial);

  int listenFd_;
  int stopFd_;  // eventfd: readable once stop() began; every poll() watches it
  TlsListenOptions options_;
  unsigned int maxConnections_;
  Handoff handoff_;
  std::shared_mutex handoffMutex_;  // shared while handing off, exclusive to close
  bool handoffClosed_ = false;      // guarded by handoffMutex_
  std::thread acceptThread_;
  std::atomic<bool> stopping_{false};
  std::atomic<std::uint64_t> nextSerial_{1};

  mutable std::mutex mutex_;  // guards everything below
  std::map<std::uint64_t, std::shared_ptr<Connection>> connections_;
  unsigned int memberCount_ = 0;  // connections_ with `member` set
  std::map<std::uint64_t, std::thread> threads_;
  std::vector<std::uint64_t> finished_;  // threads that ended and wait to be joined
  // Identities handed over and not yet taken, by plain descriptor; the serial guards
  // against a descriptor number reused by another connection.
  struct PendingIdentity {
    std::uint64_t serial;
    std::shared_ptr<const PeerIdentity> identity;
  };
  std::map<int, PendingIdentity> pendingIdentities_;
  std::shared_ptr<const TlsServerConfig> contextConfig_;
  std::shared_ptr<SSL_CTX> context_;
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
