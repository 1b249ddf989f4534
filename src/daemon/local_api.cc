#include "daemon/local_api.h"

#include <nlohmann/json.hpp>

#include "api/api_error.h"
#include "api/cluster_protocol.h"
#include "api/image_types.h"
#include "api/task_io.h"
#include "common/json.h"
#include "common/quote.h"
#include "daemon/daemon.h"
#include "daemon/image_requests.h"
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
  return HttpResponse{status, encodeJson(*result)};
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

HttpHandler clusterWrite(Daemon& daemon, HttpHandler handler) {
  return managerOnlyWrite([&daemon] { return daemon.isWorker(); }, std::move(handler));
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

// `?noResolveImage=true` (`--no-resolve-image`): store the image without its digest.
Result<manager::ServiceWriteOptions> serviceWriteOptions(const HttpRequest& request) {
  std::string value = request.queryOr("noResolveImage", "false");
  if (value != "true" && value != "false") {
    return errorf(ErrorKind::InvalidArgument,
                  "query argument noResolveImage={} is not valid: expected true or false",
                  quote(value));
  }
  return manager::ServiceWriteOptions{value != "true"};
}

// The Service as JSON plus "warnings" (each printed by the CLI on stderr).
HttpResponse serviceWriteReply(const Result<manager::ServiceWrite>& result, int status) {
  if (!result) {
    return api::errorResponse(result.error());
  }
  nlohmann::json json = result->service;
  json["warnings"] = result->warnings;
  return HttpResponse{status, dumpJson(json)};
}

HttpResponse createService(Daemon& daemon, const HttpRequest& request) {
  auto options = serviceWriteOptions(request);
  if (!options) {
    return api::errorResponse(options.error());
  }
  auto spec = bodyAs<api::ServiceSpec>(request, "service create");
  if (!spec) {
    return api::errorResponse(spec.error());
  }
  return serviceWriteReply(daemon.createService(*spec, *options), 201);
}

HttpResponse updateService(Daemon& daemon, const HttpRequest& request) {
  auto options = serviceWriteOptions(request);
  if (!options) {
    return api::errorResponse(options.error());
  }
  auto update = bodyAs<api::ServiceUpdateRequest>(request, "service update");
  if (!update) {
    return api::errorResponse(update.error());
  }
  return serviceWriteReply(daemon.updateService(request.params[0], *update, *options), 200);
}

HttpResponse swarmUpdate(Daemon& daemon, const HttpRequest& request) {
  auto update = bodyAs<api::SwarmUpdateRequest>(request, "swarm update");
  if (!update) {
    return api::errorResponse(update.error());
  }
  return reply(daemon.swarmUpdate(*update));
}

HttpResponse roleChangeReply(const Result<manager::RoleChange>& change) {
  if (!change) {
    return api::errorResponse(change.error());
  }
  return HttpResponse{200, dumpJson({{"node", change->node}, {"changed", change->changed}})};
}

HttpResponse joinTokenReply(const Result<std::string>& token) {
  if (!token) {
    return api::errorResponse(token.error());
  }
  return HttpResponse{200, dumpJson({{"token", *token}})};
}

HttpResponse removeService(Daemon& daemon, const HttpRequest& request) {
  return reply(daemon.removeService(request.params[0]));
}

HttpResponse deployStack(Daemon& daemon, const HttpRequest& request) {
  auto deploy = decodeStackDeployRequest(request.body);
  if (!deploy) {
    return api::errorResponse(deploy.error());
  }
  return reply(daemon.deployStack(*deploy));
}

HttpResponse removeStack(Daemon& daemon, const HttpRequest& request) {
  return reply(daemon.removeStack(request.params[0]));
}

HttpResponse updateNode(Daemon& daemon, const HttpRequest& request) {
  auto update = decodeNodeUpdateRequest(request.body);
  if (!update) {
    return api::errorResponse(update.error());
  }
  return reply(daemon.updateNode(request.params[0], *update));
}

HttpResponse runTask(Daemon& daemon, const HttpRequest& request) {
  auto run = decodeRunRequest(request.body);
  if (!run) {
    return api::errorResponse(run.error());
  }
  return reply(daemon.runTask(*run), 201);
}

HttpResponse removeTask(Daemon& daemon, const HttpRequest& request) {
  return reply(daemon.removeTask(request.params[0], request.queryOr("force", "false") == "true"));
}

HttpResponse pullImageRoute(Daemon& daemon, const HttpRequest& request) {
  auto pull = bodyAs<api::ImagePullRequest>(request, "image pull");
  if (!pull) {
    return api::errorResponse(pull.error());
  }
  return reply(pullImage(daemon.images(), *pull, &daemon.stopping()));
}

HttpResponse loadImageRoute(Daemon& daemon, const HttpRequest& request) {
  auto load = bodyAs<api::ImageLoadRequest>(request, "image load");
  if (!load) {
    return api::errorResponse(load.error());
  }
  return reply(loadImage(daemon.images(), *load));
}

HttpResponse removeImageRoute(Daemon& daemon, const HttpRequest& request) {
  std::string force = request.queryOr("force", "false");
  if (force != "true" && force != "false") {
    return api::errorResponse(
        Error{ErrorKind::InvalidArgument,
              fmt::format("image rm: force={}: expected true or false", quote(force))});
  }
  return reply(removeImage(daemon.images(), request.params[0], force == "true"));
}

HttpResponse execReply(const Result<runtime::ExecResult>& result) {
  if (!result) {
    return api::errorResponse(result.error());
  }
  return HttpResponse{200, api::encodeExecOutput(api::ExecOutput{
                               result->exitCode, result->out, result->err, result->timedOut})};
}

HttpResponse logsReply(const Result<std::string>& result) {
  if (!result) {
    return api::errorResponse(result.error());
  }
  return HttpResponse{200, api::encodeLogs(*result)};
}

}  // namespace

HttpHandler managerOnlyWrite(std::function<bool()> isWorker, HttpHandler handler) {
  return
      [isWorker = std::move(isWorker), handler = std::move(handler)](const HttpRequest& request) {
        if (isWorker()) {
          return api::errorResponse(
              Error{ErrorKind::FailedPrecondition, std::string(api::kNotAManagerMessage)});
        }
        return handler(request);
      };
}

Result<manager::RunRequest> decodeRunRequest(std::string_view body) {
  return decodeObject<manager::RunRequest>(
      body, "run", [](const nlohmann::json& json, manager::RunRequest& run) {
        readField(json, "name", run.name);
        readField(json, "networks", run.networks);
        readField(json, "node", run.node);
        readField(json, "command", run.command);
        readField(json, "env", run.env);
        readField(json, "container", run.container);
        readField(json, "stopGracePeriodMs", run.stopGracePeriodMs);
      });
}

Result<api::StackDeployRequest> decodeStackDeployRequest(std::string_view body) {
  if (body.empty()) {
    return errorf(ErrorKind::InvalidArgument, "stack deploy: the request body is empty");
  }
  return decodeJson<api::StackDeployRequest>(body, "stack deploy");
}

Result<SwarmJoinRequest> decodeSwarmJoinRequest(std::string_view body) {
  return decodeObject<SwarmJoinRequest>(body, "swarm join",
                                        [](const nlohmann::json& json, SwarmJoinRequest& join) {
                                          readField(json, "token", join.token);
                                          readField(json, "remoteAddress", join.remoteAddress);
                                          readField(json, "advertiseAddr", join.advertiseAddr);
                                          join.advertiseAddrGiven = !join.advertiseAddr.empty();
                                          readField(json, "storeCaFile", join.storeTls.caFile);
                                          readField(json, "storeCertFile", join.storeTls.certFile);
                                          readField(json, "storeKeyFile", join.storeTls.keyFile);
                                        });
}

Result<manager::NodeUpdateRequest> decodeNodeUpdateRequest(std::string_view body) {
  return decodeObject<manager::NodeUpdateRequest>(
      body, "node update", [](const nlohmann::json& json, manager::NodeUpdateRequest& update) {
        readField(json, "labelAdd", update.labelAdd);
        readField(json, "labelRm", update.labelRm);
      });
}

void registerLocalApi(api::HttpServer& server, Daemon& daemon) {
  server.route("GET", "/v1/version", [](const HttpRequest&) {
    return HttpResponse{200, dumpJson({{"version", kVersion}, {"api", "v1"}})};
  });
  server.route("GET", "/v1/info", [&daemon](const HttpRequest&) {
    return HttpResponse{200, encodeJson(daemon.info())};
  });
  server.route("POST", "/v1/swarm/init", [&daemon](const HttpRequest& request) {
    auto body = bodyAs<api::SwarmInitRequest>(request, "swarm init");
    if (!body) {
      return api::errorResponse(body.error());
    }
    return reply(daemon.swarmInit(*body));
  });
  server.route("POST", "/v1/swarm/join", [&daemon](const HttpRequest& request) {
    auto join = decodeSwarmJoinRequest(request.body);
    if (!join) {
      return api::errorResponse(join.error());
    }
    return reply(daemon.swarmJoin(*join));
  });
  server.route("POST", "/v1/swarm/leave", [&daemon](const HttpRequest& request) {
    auto left = daemon.swarmLeave(request.queryOr("force", "false") == "true");
    if (!left) {
      return api::errorResponse(left.error());
    }
    // What the clean-up removed, and what it could not (the CLI prints the latter).
    nlohmann::json body = {{"removed", left->removed}, {"notRemoved", left->failed}};
    return HttpResponse{200, dumpJson(body)};
  });
  server.route("POST", "/v1/swarm/update", clusterWrite(daemon, [&daemon](const HttpRequest& r) {
                 return swarmUpdate(daemon, r);
               }));
  // ?role=worker|manager; answered by the manager only (kNotAManagerMessage elsewhere).
  server.route("GET", "/v1/swarm/join-token", [&daemon](const HttpRequest& request) {
    return joinTokenReply(daemon.joinToken(request.queryOr("role", ""), false));
  });
  server.route("POST", "/v1/swarm/join-token/rotate", [&daemon](const HttpRequest& request) {
    return joinTokenReply(daemon.joinToken(request.queryOr("role", ""), true));
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
    return reply(daemon.inspectNetworkDetail(request.params[0]));
  });

  server.route("POST", "/v1/services", clusterWrite(daemon, [&daemon](const HttpRequest& r) {
                 return createService(daemon, r);
               }));
  server.route(
      "POST", "/v1/services/{ref}/update",
      clusterWrite(daemon, [&daemon](const HttpRequest& r) { return updateService(daemon, r); }));
  server.route(
      "DELETE", "/v1/services/{ref}",
      clusterWrite(daemon, [&daemon](const HttpRequest& r) { return removeService(daemon, r); }));
  server.route("GET", "/v1/services",
               [&daemon](const HttpRequest&) { return reply(daemon.listServices()); });
  server.route("GET", "/v1/services/{ref}", [&daemon](const HttpRequest& request) {
    return reply(daemon.inspectService(request.params[0]));
  });

  server.route("POST", "/v1/stacks/deploy", clusterWrite(daemon, [&daemon](const HttpRequest& r) {
                 return deployStack(daemon, r);
               }));
  server.route(
      "POST", "/v1/stacks/{name}/remove",
      clusterWrite(daemon, [&daemon](const HttpRequest& r) { return removeStack(daemon, r); }));
  server.route("GET", "/v1/stacks",
               [&daemon](const HttpRequest&) { return reply(daemon.listStacks()); });

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
    auto exec = api::decodeExecRequest(request.body);
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

  // The node's own images: no cluster state, so the same in or out of a swarm.
  server.route("GET", "/v1/images",
               [&daemon](const HttpRequest&) { return reply(listImages(daemon.images())); });
  server.route("POST", "/v1/images/pull",
               [&daemon](const HttpRequest& r) { return pullImageRoute(daemon, r); });
  server.route("POST", "/v1/images/load",
               [&daemon](const HttpRequest& r) { return loadImageRoute(daemon, r); });
  server.route("DELETE", "/v1/images/{ref}",
               [&daemon](const HttpRequest& r) { return removeImageRoute(daemon, r); });
  server.route("GET", "/v1/nodes/{ref}", [&daemon](const HttpRequest& request) {
    return reply(daemon.inspectNode(request.params[0]));
  });
  server.route(
      "POST", "/v1/nodes/{ref}/update",
      clusterWrite(daemon, [&daemon](const HttpRequest& r) { return updateNode(daemon, r); }));
  server.route(
      "DELETE", "/v1/nodes/{ref}", clusterWrite(daemon, [&daemon](const HttpRequest& r) {
        return reply(daemon.removeNode(r.params[0], r.queryOr("force", "false") == "true"));
      }));
  // `node promote|demote`: {"node": api::Node, "changed": bool} (false: it had that role).
  for (auto [path, role] : {std::pair{"/v1/nodes/{ref}/promote", "manager"},
                            std::pair{"/v1/nodes/{ref}/demote", "worker"}}) {
    server.route("POST", path,
                 clusterWrite(daemon, [&daemon, role = std::string(role)](const HttpRequest& r) {
                   return roleChangeReply(daemon.setNodeRole(r.params[0], role));
                 }));
  }
}

// Served on the node port behind mutual TLS whose admission lets in manager
// certificates only (Daemon::launchRoles): a handler here never sees another caller.
void registerNodeApi(api::HttpServer& server, Daemon& daemon) {
  server.route("POST", "/v1/tasks/{id}/exec", [&daemon](const HttpRequest& r) {
    auto exec = api::decodeExecRequest(r.body);
    if (!exec) {
      return api::errorResponse(exec.error());
    }
    return execReply(daemon.execLocalTask(r.params[0], exec->command, exec->timeout));
  });
  server.route("GET", "/v1/tasks/{id}/logs", [&daemon](const HttpRequest& r) {
    return logsReply(daemon.localTaskLogs(r.params[0]));
  });
}

}  // namespace overmesh::daemon
