#include "daemon/local_api.h"

#include <nlohmann/json.hpp>

#include "api/api_error.h"
#include "common/json.h"
#include "daemon/daemon.h"
#include "daemon/version.h"

namespace overmesh::daemon {
namespace {

using api::HttpHandler;
using api::HttpRequest;
using api::HttpResponse;

template <typename T>
HttpResponse reply(const Result<T>& result, int status = 200) {
  if (!result) {
    return api::errorResponse(result.error());
  }
  return HttpResponse{status, nlohmann::json(*result).dump()};
}

HttpResponse reply(const Status& result) {
  if (!result) {
    return api::errorResponse(result.error());
  }
  return HttpResponse{200, "{}"};
}

template <typename T>
Result<T> bodyAs(const HttpRequest& request, std::string_view what) {
  if (request.body.empty()) {
    return errorf(ErrorKind::InvalidArgument, "{}: the request body is empty", what);
  }
  return decodeJson<T>(request.body, what);
}

// A write to cluster state: done here on a manager, forwarded by a worker.
HttpHandler clusterWrite(Daemon& daemon, HttpHandler handler) {
  return [&daemon, handler = std::move(handler)](const HttpRequest& request) {
    if (daemon.isWorker()) {
      return daemon.forwardToManager(request);
    }
    return handler(request);
  };
}

HttpHandler guarded(const api::RouteGuard& guard, HttpHandler handler) {
  return [guard, handler = std::move(handler)](const HttpRequest& request) {
    if (auto rejected = guard(request)) {
      return *rejected;
    }
    return handler(request);
  };
}

HttpResponse createNetwork(Daemon& daemon, const HttpRequest& request) {
  auto body = bodyAs<api::NetworkCreateRequest>(request, "network create");
  if (!body) {
    return api::errorResponse(body.error());
  }
  return reply(daemon.createNetwork(*body), 201);
}

HttpResponse removeNetwork(Daemon& daemon, const HttpRequest& request) {
  return reply(daemon.removeNetwork(request.params[0]));
}

HttpResponse runTask(Daemon& daemon, const HttpRequest& request) {
  manager::RunRequest run;
  try {
    auto body = nlohmann::json::parse(request.body);
    readField(body, "name", run.name);
    readField(body, "networks", run.networks);
    readField(body, "node", run.node);
    readField(body, "command", run.command);
  } catch (const std::exception& error) {
    return api::errorResponse(
        Error{ErrorKind::InvalidArgument, fmt::format("run: {}", error.what())});
  }
  return reply(daemon.runTask(run), 201);
}

HttpResponse removeTask(Daemon& daemon, const HttpRequest& request) {
  return reply(daemon.removeTask(request.params[0], request.queryOr("force", "false") == "true"));
}

struct ExecBody {
  std::vector<std::string> command;
  std::chrono::milliseconds timeout{60'000};
};

Result<ExecBody> execBody(const HttpRequest& request) {
  ExecBody exec;
  try {
    auto body = nlohmann::json::parse(request.body);
    readField(body, "command", exec.command);
    std::int64_t timeoutMs = 60'000;
    readField(body, "timeoutMs", timeoutMs);
    if (timeoutMs <= 0 || timeoutMs > 3'600'000) {
      return errorf(ErrorKind::InvalidArgument,
                    "exec: timeout {} ms is out of range: use 1 ms to 1 hour", timeoutMs);
    }
    exec.timeout = std::chrono::milliseconds(timeoutMs);
  } catch (const std::exception& error) {
    return errorf(ErrorKind::InvalidArgument, "exec: {}", error.what());
  }
  return exec;
}

HttpResponse execReply(const Result<runtime::ExecResult>& result) {
  if (!result) {
    return api::errorResponse(result.error());
  }
  nlohmann::json body = {{"exitCode", result->exitCode}, {"out", result->out}, {"err", result->err}};
  return HttpResponse{200, body.dump()};
}

HttpResponse logsReply(const Result<std::string>& result) {
  if (!result) {
    return api::errorResponse(result.error());
  }
  return HttpResponse{200, nlohmann::json{{"logs", *result}}.dump()};
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
  server.route("POST", "/v1/swarm/join", [&daemon](const HttpRequest& request) {
    SwarmJoinRequest join;
    try {
      auto body = nlohmann::json::parse(request.body);
      readField(body, "token", join.token);
      readField(body, "remoteAddress", join.remoteAddress);
      readField(body, "advertiseAddr", join.advertiseAddr);
    } catch (const std::exception& error) {
      return api::errorResponse(
          Error{ErrorKind::InvalidArgument, fmt::format("swarm join: {}", error.what())});
    }
    return reply(daemon.swarmJoin(join));
  });
  server.route("POST", "/v1/swarm/leave", [&daemon](const HttpRequest& request) {
    return reply(daemon.swarmLeave(request.queryOr("force", "false") == "true"));
  });
  server.route("GET", "/v1/swarm/join-token", [&daemon](const HttpRequest&) {
    auto token = daemon.workerJoinToken();
    if (!token) {
      return api::errorResponse(token.error());
    }
    return HttpResponse{200, nlohmann::json{{"worker", *token}}.dump()};
  });

  server.route("POST", "/v1/networks", clusterWrite(daemon, [&daemon](const HttpRequest& r) {
                 return createNetwork(daemon, r);
               }));
  server.route("DELETE", "/v1/networks/{ref}", clusterWrite(daemon, [&daemon](const HttpRequest& r) {
                 return removeNetwork(daemon, r);
               }));
  server.route("GET", "/v1/networks", [&daemon](const HttpRequest&) {
    return reply(daemon.listNetworks());
  });
  server.route("GET", "/v1/networks/{ref}", [&daemon](const HttpRequest& request) {
    return reply(daemon.inspectNetwork(request.params[0]));
  });

  server.route("POST", "/v1/tasks", clusterWrite(daemon, [&daemon](const HttpRequest& r) {
                 return runTask(daemon, r);
               }));
  server.route("DELETE", "/v1/tasks/{ref}", clusterWrite(daemon, [&daemon](const HttpRequest& r) {
                 return removeTask(daemon, r);
               }));
  server.route("GET", "/v1/tasks", [&daemon](const HttpRequest&) {
    return reply(daemon.listTasks());
  });
  server.route("GET", "/v1/tasks/{ref}", [&daemon](const HttpRequest& request) {
    return reply(daemon.inspectTask(request.params[0]));
  });
  server.route("POST", "/v1/tasks/{ref}/exec", [&daemon](const HttpRequest& request) {
    auto exec = execBody(request);
    if (!exec) {
      return api::errorResponse(exec.error());
    }
    return execReply(daemon.execTask(request.params[0], exec->command, exec->timeout));
  });
  server.route("GET", "/v1/tasks/{ref}/logs", [&daemon](const HttpRequest& request) {
    return logsReply(daemon.taskLogs(request.params[0]));
  });

  server.route("GET", "/v1/nodes", [&daemon](const HttpRequest&) {
    return reply(daemon.listNodes());
  });
  server.route("GET", "/v1/nodes/{ref}", [&daemon](const HttpRequest& request) {
    return reply(daemon.inspectNode(request.params[0]));
  });
}

void registerForwardedApi(api::HttpServer& server, Daemon& daemon, const api::RouteGuard& guard) {
  server.route("POST", "/v1/networks", guarded(guard, [&daemon](const HttpRequest& r) {
                 return createNetwork(daemon, r);
               }));
  server.route("DELETE", "/v1/networks/{ref}", guarded(guard, [&daemon](const HttpRequest& r) {
                 return removeNetwork(daemon, r);
               }));
  server.route("POST", "/v1/tasks", guarded(guard, [&daemon](const HttpRequest& r) {
                 return runTask(daemon, r);
               }));
  server.route("DELETE", "/v1/tasks/{ref}", guarded(guard, [&daemon](const HttpRequest& r) {
                 return removeTask(daemon, r);
               }));
}

void registerNodeApi(api::HttpServer& server, Daemon& daemon) {
  api::RouteGuard members = [&daemon](const HttpRequest& request) -> std::optional<HttpResponse> {
    if (daemon.isMemberRequest(request)) {
      return std::nullopt;
    }
    return api::errorResponse(
        Error{ErrorKind::Unauthenticated, "node API: the caller is not a member of this swarm"});
  };
  server.route("POST", "/v1/tasks/{id}/exec", guarded(members, [&daemon](const HttpRequest& r) {
                 auto exec = execBody(r);
                 if (!exec) {
                   return api::errorResponse(exec.error());
                 }
                 return execReply(daemon.execLocalTask(r.params[0], exec->command, exec->timeout));
               }));
  server.route("GET", "/v1/tasks/{id}/logs", guarded(members, [&daemon](const HttpRequest& r) {
                 return logsReply(daemon.localTaskLogs(r.params[0]));
               }));
}

}  // namespace overmesh::daemon
