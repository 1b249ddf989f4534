#pragma once

// An HTTP/1.1 server for the REST API, on a unix socket (the CLI's) or TCP (the
// cluster's), built on libmicrohttpd: cpp-httplib 0.11 in Debian 12 can bind neither
// a unix socket nor an existing descriptor, and libmicrohttpd accepts any listening socket.
//
// Threads: libmicrohttpd runs one polling thread per listener, in epoll mode (no
// FD_SETSIZE ceiling), and no thread per connection: an idle connection costs a
// descriptor and a few KiB, not a thread. When a request is complete its connection is
// suspended and its handler runs on the server's handler pool (api/handler_pool.h: 2 to
// limits().handlerThreads threads, grown on demand; past them requests queue, and past
// limits().maxQueuedRequests they get 503 "overmeshd is busy"). The answer is stored and
// the connection resumed; the polling thread sends it. A handler may block (an exec, a
// pull): it holds one pool thread, never a polling thread, so handlers run concurrently
// and must be thread-safe; they must return promptly once the owner starts shutting
// down, since stop() waits for them. A handler that waits for an event without blocking
// anything is an async route (routeAsync): its connection stays suspended, holding no
// thread, until its HttpResponder answers.
//
// No request can kill the daemon: dispatch() is the one barrier every handler runs
// behind; an exception (a bug, std::bad_alloc, a JSON type error) becomes a 500 naming
// the route, and is logged.
//
// Limits (HttpServerLimits): a request body above maxBodyBytes gets 413 and is not read
// further (a Content-Length above the cap is refused before the body is read; a chunked
// body is refused once it passes the cap). A listener serves at most maxConnections
// connections at once; the next ones get 503 "too many connections" and are closed, and
// beyond maxConnections + kConnectionSlack libmicrohttpd closes new connections at once
// without an answer.

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "api/handler_pool.h"
#include "api/http_types.h"
#include "api/tls.h"
#include "common/error.h"

struct MHD_Daemon;

namespace overmesh::api {

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

// Answers one request of an async route (HttpServer::routeAsync), later and from any
// thread. Copyable and thread-safe: the first respond() wins, later ones are ignored.
// When every copy is gone without an answer (a waiter dropped it), the client gets a
// 500 naming the route, never a hung connection. A responder may outlive the server:
// respond() after stop() does nothing.
class HttpResponder {
 public:
  struct Shared;  // http_server.cc
  explicit HttpResponder(std::shared_ptr<Shared> shared);
  void respond(HttpResponse response) const;
  // True once nobody can receive the answer any more: the client closed its connection
  // or the server is stopping. A waiter (the watch hub) drops such responders early.
  bool abandoned() const;

 private:
  std::shared_ptr<Shared> shared_;
};

// A handler that need not answer before it returns: it keeps the responder and answers
// when its event happens (a watch long-poll answers when the store moves or its wait
// ends). While it waits, the request holds no thread: its connection is suspended. The
// handler itself runs like a synchronous one (on a pool thread, behind the same
// exception barrier: a throw before respond() becomes a 500) and must return promptly.
// At stop() every unanswered request gets a 503 and abandoned() turns true; a client
// that closes its connection is noticed within about a second (abandoned() turns true,
// and its connection is released); a half-close (shutdown of its writes) cannot be told
// from a close there and counts as one.
using AsyncHttpHandler = std::function<void(const HttpRequest&, HttpResponder)>;

// The API's request body cap: every request of ours is a small JSON object.
inline constexpr std::size_t kMaxRequestBody = 1024 * 1024;
// Connections one listener serves at once. Each is one descriptor (three on a TLS
// listener: the TCP socket and the relay's socket pair), and a few KiB; overmeshd raises
// its descriptor limit to the hard limit at start (20,000 on our machines).
inline constexpr unsigned int kMaxConnections = 10'000;
// Connections beyond the limit that still get their 503; past that MHD closes them.
inline constexpr unsigned int kConnectionSlack = 64;
// The manager's cluster listener holds every worker's watch and heartbeat connections:
// about 2,500 nodes at two connections each. It is TLS, three descriptors a connection,
// so 5,000 take 15,000 of a 20,000 descriptor limit and leave room for the local socket
// and the node's own connections.
inline constexpr unsigned int kMaxClusterConnections = 5'000;

struct HttpServerLimits {
  std::size_t maxBodyBytes = kMaxRequestBody;
  unsigned int maxConnections = kMaxConnections;
  // The handler pool's cap and its queue (api/handler_pool.h).
  unsigned int handlerThreads = kMaxHandlerThreads;
  std::size_t maxQueuedRequests = kMaxQueuedRequests;
};

// Checked before a guarded route's handler: nullopt lets the request through, a
// response (401, say) is sent instead of calling the handler.
using RouteGuard = std::function<std::optional<HttpResponse>(const HttpRequest&)>;

class HttpServer {
 public:
  HttpServer();
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Limits of the listeners started after this call.
  void setLimits(HttpServerLimits limits) { limits_ = limits; }
  const HttpServerLimits& limits() const { return limits_; }

  // Adds a route. `pattern` segments in braces ("/v1/networks/{ref}") match one path
  // segment each and are passed in HttpRequest::params. Call before listening.
  void route(std::string method, std::string pattern, HttpHandler handler);
  // The same for a handler that answers later (see AsyncHttpHandler).
  void routeAsync(std::string method, std::string pattern, AsyncHttpHandler handler);
  // The same for a handler that never blocks (no store call, no I/O, only short locks):
  // it runs on the listener's polling thread, without the hand-off to the pool and the
  // connection's suspension and resumption. For the requests every node sends every
  // second (heartbeats): at 1,000 nodes the hand-off cost more than the handler. A
  // handler that blocks here stalls every connection of the listener.
  void routeInline(std::string method, std::string pattern, HttpHandler handler);

  // Listens on a unix socket at `path` with permissions `mode`. A stale socket file left
  // by a dead daemon is replaced; a live one (something accepts on it) is an error, so
  // two daemons never share a socket. Fails with Unavailable and the errno text.
  Status listenUnix(const std::string& path, mode_t mode);

  // Listens on TCP `address`:`port` (port 0 = pick one). Returns the bound port.
  Result<std::uint16_t> listenTcp(const std::string& address, std::uint16_t port);

  // Listens on TCP with TLS 1.3 (api/tls.h): every connection's handshake is done by
  // OpenSSL before any HTTP is read; the client's certificate must chain to the
  // configured CA (except a join connection, see TlsListenOptions) and be admitted by
  // `options.admit`; the request then carries HttpRequest::identity. Returns the bound
  // port. A failed handshake is logged (at most once a second per reason) and closed.
  // Details (api/tls_listener.h): `admit` runs during the handshake (a refused peer gets
  // a "certificate revoked" alert) and once more when the connection opens; it is not
  // called for a join connection (no certificate: nothing to judge). A join connection
  // gets 401 and is closed for anything but GET kCaPath and POST kJoinPath. A client
  // offering no ALPN, or none of ours, is treated as a cluster client. The TLS side's
  // threads are api/tls_listener.h's; the HTTP side is this server's. Past limits().maxConnections
  // + kConnectionSlack member connections, or options.maxUnverifiedConnections
  // (maxUnverifiedPerAddress from one address) handshaking and join connections, a new one is
  // closed at once. Every answer on a join connection carries `Connection: close` (one request
  // each), and a connection whose client stops reading ends after options.stallTimeout.
  Result<std::uint16_t> listenTls(const std::string& address, std::uint16_t port,
                                  TlsListenOptions options);

  // Closes at once every TLS connection whose peer `which` selects (revocation: `node
  // rm`): a long-poll in progress on it ends for the client within the call. Returns how
  // many were closed. Thread-safe. Connections still in their handshake are not judged
  // here: `admit` (called again once the handshake is done) must already refuse them.
  std::size_t closeConnections(const std::function<bool(const PeerIdentity&)>& which);

  // Stops every listener and waits for in-flight handlers. Idempotent; the server may
  // listen again afterwards. Before it closes
  // the connections it lets requests in progress finish and their answers go out, for up
  // to the drain time (2 s unless set): a daemon that stops first cancels its long calls
  // (execs), and their clients should get the error, not an empty reply. A server whose
  // requests may legitimately wait long (the cluster API's watch long-polls) sets it to 0:
  // then only answers already produced are waited for. Then every request still without
  // an answer (a long-poll, an async route) gets 503 "overmeshd is stopping" (sent if it
  // can be within a second) and its responders turn abandoned().
  void stop();
  void setStopDrain(std::chrono::milliseconds drain) { stopDrain_ = drain; }

  struct Route {
    std::string method;
    std::string pattern;  // as given, for messages ("POST /v1/tasks/{ref}/exec")
    std::vector<std::string> segments;
    HttpHandler handler;            // set for route() and routeInline()
    AsyncHttpHandler asyncHandler;  // set for routeAsync()
    bool onPollingThread = false;   // routeInline()
  };
  // Finds the handler for a request, fills request.params and runs it behind the
  // barrier on the calling thread, waiting for an async route's answer: never throws.
  // For tests and fuzzers (the server itself runs handlers on its pool).
  HttpResponse dispatch(HttpRequest& request) const;

  // One listening socket's libmicrohttpd daemon and its connection count.
  struct Listener;
  // The handler pool and the suspended requests (http_server.cc).
  struct Engine;

 private:
  // The route for `request` (filling request.params), or null.
  const Route* match(HttpRequest& request) const;
  // The 405 (a route has the path, not the method) or 404 for a request match() missed.
  HttpResponse unrouted(const HttpRequest& request) const;

  // `extraConnections`: beyond maxConnections + kConnectionSlack (listenTls's join pool).
  Status startDaemon(int listenFd, bool isUnix, unsigned int extraConnections = 0);

  std::vector<Route> routes_;
  HttpServerLimits limits_;
  std::vector<std::unique_ptr<Listener>> listeners_;
  std::vector<std::string> unixPaths_;
  std::chrono::milliseconds stopDrain_{2000};
  std::unique_ptr<Engine> engine_;
};

}  // namespace overmesh::api
