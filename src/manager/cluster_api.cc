#include "manager/cluster_api.h"

#include <charconv>
#include <limits>

#include <nlohmann/json.hpp>

#include "api/api_error.h"
#include "api/cluster_protocol.h"
#include "common/json.h"
#include "common/quote.h"
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
  return request.headerOr(lower("X-Overmesh-Node-Id"), "");
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
    return errorf(ErrorKind::InvalidArgument,
                  "query argument {}={} is not valid: expected a whole number from 0 to {}", name,
                  quote(it->second), std::numeric_limits<std::int64_t>::max());
  }
  return value;
}

}  // namespace

Result<JoinRequest> decodeJoinRequest(std::string_view body) {
  return decodeObject<JoinRequest>(body, "swarm join: bad request",
                                   [](const nlohmann::json& json, JoinRequest& join) {
                                     readField(json, "token", join.token);
                                     readField(json, "hostname", join.hostname);
                                     readField(json, "address", join.address);
                                     readField(json, "underlayPrefix", join.underlayPrefix);
                                     readField(json, "gatewaySubnet", join.gatewaySubnet);
                                   });
}

Result<StatusReport> decodeStatusReport(std::string_view body) {
  return decodeObject<StatusReport>(body, "task status",
                                    [](const nlohmann::json& json, StatusReport& report) {
                                      requireField(json, "state", report.state);
                                      readField(json, "message", report.message);
                                      readField(json, "exitCode", report.exitCode);
                                      readField(json, "health", report.health);
                                    });
}

ClusterApi::ClusterApi(store::Store& store, NodeManager& nodes, TaskManager& tasks,
                       security::NodePki& pki)
    : store_(store), nodes_(nodes), tasks_(tasks), pki_(&pki) {}

ClusterApi::ClusterApi(store::Store& store, NodeManager& nodes, TaskManager& tasks)
    : store_(store), nodes_(nodes), tasks_(tasks) {}

// Placeholder (issue 12 contracts): the manager lane replaces it.
bool ClusterApi::admit(const api::PeerIdentity&) { return false; }

std::optional<HttpResponse> ClusterApi::rejectUnauthenticated(const HttpRequest& request) {
  auto node = nodes_.authenticate(nodeIdOf(request),
                                  request.headerOr(lower("X-Overmesh-Node-Secret"), ""));
  if (!node) {
    return api::errorResponse(node.error());
  }
  return std::nullopt;
}

void ClusterApi::registerRoutes(api::HttpServer& server) {
  server.route("POST", api::kJoinPath, [this](const HttpRequest& r) { return join(r); });
  server.route("POST", api::kHeartbeatPath, [this](const HttpRequest& r) { return heartbeat(r); });
  server.route("POST", api::kLeavePath, [this](const HttpRequest& r) { return leave(r); });
  server.route("GET", api::kSnapshotPath, [this](const HttpRequest& r) { return snapshot(r); });
  server.route("GET", api::kWatchPath, [this](const HttpRequest& r) { return watch(r); });
  server.route("POST", api::kTaskStatusPattern,
               [this](const HttpRequest& r) { return taskStatus(r); });
}

HttpResponse ClusterApi::join(const HttpRequest& request) {
  auto join = decodeJoinRequest(request.body);
  if (!join) {
    return api::errorResponse(join.error());
  }
  auto joined = nodes_.join(*join);
  if (!joined) {
    return api::errorResponse(joined.error());
  }
  nlohmann::json reply = {{"node", joined->node},
                          {"nodeSecret", joined->nodeSecret},
                          {"clusterId", joined->clusterId},
                          {"nodeTimeoutMs", joined->nodeTimeoutMs},
                          {"memberSecret", joined->memberSecret}};
  return HttpResponse{200, dumpJson(reply)};
}

HttpResponse ClusterApi::heartbeat(const HttpRequest& request) {
  if (auto rejected = rejectUnauthenticated(request)) {
    return *rejected;
  }
  if (auto beat = nodes_.heartbeat(nodeIdOf(request)); !beat) {
    return api::errorResponse(beat.error());
  }
  nlohmann::json reply = {{"nodeTimeoutMs", nodes_.nodeTimeout().count()}};
  return HttpResponse{200, dumpJson(reply)};
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
  return HttpResponse{200, dumpJson({{"revision", snapshot->revision}, {"kvs", kvs}})};
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
  return HttpResponse{200, dumpJson(store::toJson(*batch))};
}

HttpResponse ClusterApi::taskStatus(const HttpRequest& request) {
  if (auto rejected = rejectUnauthenticated(request)) {
    return *rejected;
  }
  auto report = decodeStatusReport(request.body);
  if (!report) {
    return api::errorResponse(report.error());
  }
  report->taskId = request.params[0];
  report->nodeId = nodeIdOf(request);
  if (auto recorded = tasks_.reportStatus(*report); !recorded) {
    return api::errorResponse(recorded.error());
  }
  return HttpResponse{200, "{}"};
}

}  // namespace overmesh::manager
