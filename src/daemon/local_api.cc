#include "daemon/local_api.h"

#include <nlohmann/json.hpp>

#include "api/api_error.h"
#include "common/json.h"
#include "daemon/daemon.h"
#include "daemon/version.h"

namespace overmesh::daemon {
namespace {

using api::HttpRequest;
using api::HttpResponse;

template <typename T>
HttpResponse reply(const Result<T>& result, int status = 200) {
  if (!result) {
    return api::errorResponse(result.error());
  }
  return HttpResponse{status, nlohmann::json(*result).dump()};
}

template <typename T>
Result<T> bodyAs(const HttpRequest& request, std::string_view what) {
  if (request.body.empty()) {
    return errorf(ErrorKind::InvalidArgument, "{}: the request body is empty", what);
  }
  return decodeJson<T>(request.body, what);
}

}  // namespace

void registerLocalApi(api::HttpServer& server, Daemon& daemon) {
  server.route("GET", "/v1/version", [](const HttpRequest&) {
    return HttpResponse{200, nlohmann::json{{"version", kVersion}, {"api", "v1"}}.dump()};
  });
  server.route("GET", "/v1/info", [&daemon](const HttpRequest&) {
    return HttpResponse{200, nlohmann::json(daemon.info()).dump()};
  });
  server.route("POST", "/v1/swarm/init", [&daemon](const HttpRequest& request) {
    auto body = bodyAs<api::SwarmInitRequest>(request, "swarm init");
    if (!body) {
      return api::errorResponse(body.error());
    }
    return reply(daemon.swarmInit(*body));
  });
  server.route("GET", "/v1/swarm/join-token", [&daemon](const HttpRequest&) {
    auto token = daemon.workerJoinToken();
    if (!token) {
      return api::errorResponse(token.error());
    }
    return HttpResponse{200, nlohmann::json{{"worker", *token}}.dump()};
  });

  server.route("POST", "/v1/networks", [&daemon](const HttpRequest& request) {
    auto body = bodyAs<api::NetworkCreateRequest>(request, "network create");
    if (!body) {
      return api::errorResponse(body.error());
    }
    return reply(daemon.createNetwork(*body), 201);
  });
  server.route("GET", "/v1/networks", [&daemon](const HttpRequest&) {
    return reply(daemon.listNetworks());
  });
  server.route("GET", "/v1/networks/{ref}", [&daemon](const HttpRequest& request) {
    return reply(daemon.inspectNetwork(request.params[0]));
  });
  server.route("DELETE", "/v1/networks/{ref}", [&daemon](const HttpRequest& request) {
    return reply(daemon.removeNetwork(request.params[0]));
  });

  server.route("GET", "/v1/nodes", [&daemon](const HttpRequest&) {
    return reply(daemon.listNodes());
  });
  server.route("GET", "/v1/nodes/{ref}", [&daemon](const HttpRequest& request) {
    return reply(daemon.inspectNode(request.params[0]));
  });
}

}  // namespace overmesh::daemon
