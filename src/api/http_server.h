#pragma once

// An HTTP/1.1 server for the REST API, on a unix socket (the CLI's) or TCP (the
// cluster's), built on libmicrohttpd: cpp-httplib 0.11 in Debian 12 can bind neither
// a unix socket nor an existing descriptor, and libmicrohttpd accepts any listening socket.
//
// Threads: libmicrohttpd runs one thread per connection, so a handler may block (the
// watch long-poll does). Handlers must therefore be thread-safe and return promptly
// once the owner starts shutting down; stop() waits for them.

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "api/http_types.h"
#include "common/error.h"

struct MHD_Daemon;

namespace overmesh::api {

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

// Checked before a guarded route's handler: nullopt lets the request through, a
// response (401, say) is sent instead of calling the handler.
using RouteGuard = std::function<std::optional<HttpResponse>(const HttpRequest&)>;

class HttpServer {
 public:
  HttpServer();
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Adds a route. `pattern` segments in braces ("/v1/networks/{ref}") match one path
  // segment each and are passed in HttpRequest::params. Call before listening.
  void route(std::string method, std::string pattern, HttpHandler handler);

  // Listens on a unix socket at `path` with permissions `mode`. A stale socket file left
  // by a dead daemon is replaced; a live one (something accepts on it) is an error, so
  // two daemons never share a socket. Fails with Unavailable and the errno text.
  Status listenUnix(const std::string& path, mode_t mode);

  // Listens on TCP `address`:`port` (port 0 = pick one). Returns the bound port.
  Result<std::uint16_t> listenTcp(const std::string& address, std::uint16_t port);

  // Stops every listener and waits for in-flight handlers. Idempotent.
  void stop();

  struct Route {
    std::string method;
    std::vector<std::string> segments;
    HttpHandler handler;
  };
  // Finds the handler for a request and fills request.params; used by the MHD callback.
  HttpResponse dispatch(HttpRequest& request) const;

 private:
  Status startDaemon(int listenFd, bool isUnix);

  std::vector<Route> routes_;
  std::vector<MHD_Daemon*> daemons_;
  std::vector<std::string> unixPaths_;
};

}  // namespace overmesh::api
