#include "manager/cluster_api.h"

#include <charconv>

#include <nlohmann/json.hpp>

#include "api/api_error.h"
#include "api/cluster_protocol.h"
#include "common/json.h"
#include "state/agent_view.h"
#include "store/wire.h"

namespace overmesh::manager {
namespace {

using api::HttpRequest;
using api::HttpResponse;

std::string lower(std::string text) {
  for (char& c : text) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return text;
}

std::string nodeIdOf(const HttpRequest& request) {
  return request.headerOr(lower(api::kNodeIdHeader), "");
}

Result<std::int64_t> numberArgument(const HttpRequest& request, const std::string& name,
                                    std::int64_t fallback) {
  auto it = request.query.find(name);
  if (it == request.query.end()) {
    return fallback;
  }
  std::int64_t value = 0;
  auto [end, error] = std::from_chars(it->second.data(), it->second.data() + it->second.size(),
                                      value);
  if (error != std::errc() || end != it->second.data() + it->second.size() || value < 0) {
    return errorf(ErrorKind::InvalidArgument, "query argument {}={} is not a whole number", name,
                  it->second);
  }
  return value;
}

}  // namespace

ClusterApi::ClusterApi(store::Store& store, NodeManager& nodes, TaskManager& tasks)
    : store_(store), nodes_(nodes), tasks_(tasks) {}

void ClusterApi::registerRoutes(api::HttpServer& server) {
  server.route("POST", api::kJoinPath, [this](const HttpRequest& r) { return join(r); });
  server.route("POST", api::kHeartbeatPath, [this](const HttpRequest& r) { return heartbeat(r); });
  server.route("POST", api::kLeavePath, [this](const HttpRequest& r) { return leave(r); });
  server.route("GET", api::kSnapshotPath, [this](const HttpRequest& r) { return snapshot(r); });
  server.route("GET", api::kWatchPath, [this](const HttpRequest& r) { return watch(r); });
  server.route("POST", api::kTaskStatusPattern,
               [this](const HttpRequest& r) { return taskStatus(r); });
}

std::optional<HttpResponse> ClusterApi::rejectUnauthenticated(const HttpRequest& request) {
  auto node = nodes_.authenticate(nodeIdOf(request),
                                  request.headerOr(lower(api::kNodeSecretHeader), ""));
  if (!node) {
    return api::errorResponse(node.error());
  }
  return std::nullopt;
}

HttpResponse ClusterApi::join(const HttpRequest& request) {
  JoinRequest join;
  try {
    auto body = nlohmann::json::parse(request.body);
    readField(body, "token", join.token);
    readField(body, "hostname", join.hostname);
    readField(body, "address", join.address);
    readField(body, "underlayPrefix", join.underlayPrefix);
    readField(body, "gatewaySubnet", join.gatewaySubnet);
  } catch (const std::exception& error) {
    return api::errorResponse(
        Error{ErrorKind::InvalidArgument, fmt::format("swarm join: bad request: {}", error.what())});
  }
  auto joined = nodes_.join(join);
  if (!joined) {
    return api::errorResponse(joined.error());
  }
  nlohmann::json reply = {{"node", joined->node},
                          {"nodeSecret", joined->nodeSecret},
                          {"clusterId", joined->clusterId},
                          {"nodeTimeoutMs", joined->nodeTimeoutMs},
                          {"memberSecret", joined->memberSecret}};
  return HttpResponse{200, reply.dump()};
}

HttpResponse ClusterApi::heartbeat(const HttpRequest& request) {
  if (auto rejected = rejectUnauthenticated(request)) {
    return *rejected;
  }
  if (auto beat = nodes_.heartbeat(nodeIdOf(request)); !beat) {
    return api::errorResponse(beat.error());
  }
  nlohmann::json reply = {{"nodeTimeoutMs", nodes_.nodeTimeout().count()}};
  return HttpResponse{200, reply.dump()};
}

HttpResponse ClusterApi::leave(const HttpRequest& request) {
  if (auto rejected = rejectUnauthenticated(request)) {
    return *rejected;
  }
  if (auto removed = nodes_.remove(nodeIdOf(request)); !removed) {
    return api::errorResponse(removed.error());
  }
  return HttpResponse{200, "{}"};
}

HttpResponse ClusterApi::snapshot(const HttpRequest& request) {
  if (auto rejected = rejectUnauthenticated(request)) {
    return *rejected;
  }
  auto snapshot = state::agentSnapshot(store_);
  if (!snapshot) {
    return api::errorResponse(snapshot.error());
  }
  nlohmann::json kvs = nlohmann::json::array();
  for (const auto& kv : snapshot->kvs) {
    kvs.push_back(store::toJson(kv));
  }
  return HttpResponse{200, nlohmann::json{{"revision", snapshot->revision}, {"kvs", kvs}}.dump()};
}

HttpResponse ClusterApi::watch(const HttpRequest& request) {
  if (auto rejected = rejectUnauthenticated(request)) {
    return *rejected;
  }
  auto from = numberArgument(request, "from", 0);
  auto waitMs = numberArgument(request, "waitMs", 0);
  if (!from || !waitMs) {
    return api::errorResponse(!from ? from.error() : waitMs.error());
  }
  auto wait = std::min(std::chrono::milliseconds(*waitMs), api::kMaxWatchWait);
  auto batch = state::agentWatch(store_, *from, wait);
  if (!batch) {
    return api::errorResponse(batch.error());
  }
  return HttpResponse{200, store::toJson(*batch).dump()};
}

HttpResponse ClusterApi::taskStatus(const HttpRequest& request) {
  if (auto rejected = rejectUnauthenticated(request)) {
    return *rejected;
  }
  StatusReport report;
  report.taskId = request.params[0];
  report.nodeId = nodeIdOf(request);
  try {
    auto body = nlohmann::json::parse(request.body);
    readField(body, "state", report.state);
    readField(body, "message", report.message);
    readField(body, "exitCode", report.exitCode);
  } catch (const std::exception& error) {
    return api::errorResponse(
        Error{ErrorKind::InvalidArgument, fmt::format("task status: {}", error.what())});
  }
  if (auto recorded = tasks_.reportStatus(report); !recorded) {
    return api::errorResponse(recorded.error());
  }
  return HttpResponse{200, "{}"};
}

}  // namespace overmesh::manager
