#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "api/tls.h"

namespace overmesh::api {

struct HttpRequest {
  std::string method;
  std::string path;                            // without the query string
  std::map<std::string, std::string> query;    // decoded query arguments
  std::map<std::string, std::string> headers;  // names lower-cased
  std::vector<std::string> params;             // values of "{…}" segments of the route
  std::string body;
  std::string peer;  // "unix" or the peer's IPv4 address
  // On a TLS listener: the verified client certificate (nodeId empty on a join
  // connection, which has none). nullopt on unix sockets and plain TCP.
  std::optional<PeerIdentity> identity;

  // The query argument `name`, or `fallback` when absent.
  std::string queryOr(const std::string& name, const std::string& fallback) const;
  std::string headerOr(const std::string& name, const std::string& fallback) const;
};

struct HttpResponse {
  int status = 200;
  std::string body;
  std::string contentType = "application/json";
};

}  // namespace overmesh::api
