#include "manager/cluster_api.h"

#include <spdlog/spdlog.h>

#include <charconv>
#include <limits>
#include <nlohmann/json.hpp>

#include "api/api_error.h"
#include "api/cluster_protocol.h"
#include "common/json.h"
#include "common/quote.h"
#include "manager/cluster_record.h"
#include "manager/manager_status.h"
#include "manager/join_tokens.h"
#include "manager/tcp_address_prover.h"
#include "security/pki.h"
#include "state/agent_view.h"
#include "store/wire.h"

namespace overmesh::manager {
namespace {

using api::HttpRequest;
using api::HttpResponse;

// A field a peer sent is at most `max` bytes: InvalidArgument naming it otherwise.
Status checkLength(std::string_view what, std::string_view field, const std::string& value,
                   std::size_t max) {
  if (value.size() > max) {
    return errorf(ErrorKind::InvalidArgument,
                  "{}: field \"{}\" has {} bytes: at most {} are accepted", what, field,
                  value.size(), max);
  }
  return {};
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
  constexpr std::string_view kWhat = "swarm join: bad request";
  auto join =
      decodeObject<JoinRequest>(body, kWhat, [](const nlohmann::json& json, JoinRequest& into) {
        readField(json, "token", into.token);
        readField(json, "hostname", into.hostname);
        readField(json, "address", into.address);
        readField(json, "underlayPrefix", into.underlayPrefix);
        readField(json, "gatewaySubnet", into.gatewaySubnet);
        readField(json, "csr", into.csr);
        readField(json, "advertiseAddrGiven", into.advertiseAddrGiven);
        readField(json, "addressProof", into.addressProof);
        readField(json, "proofPort", into.proofPort);
      });
  if (!join) {
    return join;
  }
  // Bounds far above any real value: whatever a peer sends ends up in logs and records.
  const std::pair<std::string_view, const std::string*> fields[] = {
      {"token", &join->token},
      {"hostname", &join->hostname},
      {"address", &join->address},
      {"underlayPrefix", &join->underlayPrefix},
      {"gatewaySubnet", &join->gatewaySubnet},
      {"addressProof", &join->addressProof}};
  for (const auto& [name, value] : fields) {
    if (auto bounded = checkLength(kWhat, name, *value, 256); !bounded) {
      return std::unexpected(bounded.error());
    }
  }
  if (auto bounded = checkLength(kWhat, "csr", join->csr, security::kMaxPemBytes); !bounded) {
    return std::unexpected(bounded.error());
  }
  return join;
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

Result<std::string> decodeRenewRequest(std::string_view body) {
  constexpr std::string_view kWhat = "certificate renewal: bad request";
  std::string csr;
  auto decoded = decodeFields(
      body, kWhat, [&csr](const nlohmann::json& json) { requireField(json, "csr", csr); });
  if (!decoded) {
    return std::unexpected(decoded.error());
  }
  if (auto bounded = checkLength(kWhat, "csr", csr, security::kMaxPemBytes); !bounded) {
    return std::unexpected(bounded.error());
  }
  return csr;
}

ClusterApi::ClusterApi(store::Store& store, NodeManager& nodes, TaskManager& tasks,
                       security::NodePki& pki)
    : watchHub_(store),
      store_(store),
      nodes_(nodes),
      tasks_(tasks),
      pki_(pki),
      prover_(std::make_unique<TcpAddressProver>()) {}

bool ClusterApi::admit(const api::PeerIdentity& peer) {
  if (peer.join) {
    return true;  // a join connection: the server lets it reach kCaPath and kJoinPath only
  }
  // A certificate without a node ID (no CN) is no member's, whatever signed it.
  return !peer.nodeId.empty() && nodes_.isMember(peer.nodeId, peer.role);
}

Result<std::string> ClusterApi::callerOf(const HttpRequest& request) {
  if (!request.identity || request.identity->nodeId.empty()) {
    return errorf(ErrorKind::Unauthenticated,
                  "this request needs a node certificate of this swarm: join the node with "
                  "`overmesh swarm join` first");
  }
  const api::PeerIdentity& peer = *request.identity;
  if (!nodes_.isMember(peer.nodeId, peer.role)) {
    return errorf(ErrorKind::Unauthenticated,
                  "node {} ({}) is not a member of this swarm; join it again with `overmesh "
                  "swarm join`",
                  peer.nodeId, peer.role);
  }
  return peer.nodeId;
}

std::optional<HttpResponse> ClusterApi::notLeader(std::string_view what) const {
  if (leadership_ == nullptr || leadership_->isLeader()) {
    return std::nullopt;
  }
  auto leader = leadership_->leader();
  std::string address = leader ? leader->address : "";
  Error error{ErrorKind::FailedPrecondition,
              address.empty()
                  ? fmt::format("{}: this manager does not lead the swarm and no manager leads "
                                "it right now; retry shortly",
                                what)
                  : fmt::format("{}: this manager does not lead the swarm; send it to the "
                                "leader at {}",
                                what, address)};
  // The usual error body (api::errorFromResponse reads it), plus where to go.
  nlohmann::json body = {
      {"error", {{"kind", std::string(errorKindName(error.kind))}, {"message", error.message}}},
      {"leader", address}};
  return HttpResponse{api::kNotLeaderStatus, dumpJson(body)};
}

Result<security::CaMaterial> ClusterApi::caMaterial() const {
  auto key = pki_.caKey();
  if (!key) {
    return errorf(ErrorKind::Unavailable, "this manager cannot sign certificates: {}",
                  key.error().message);
  }
  return security::CaMaterial{pki_.current()->caCertPem, std::move(*key)};
}

void ClusterApi::registerRoutes(api::HttpServer& server) {
  server.route("GET", api::kCaPath, [this](const HttpRequest& r) { return caCertificate(r); });
  server.route("POST", api::kJoinPath, [this](const HttpRequest& r) { return join(r); });
  // Every node, every second: on the polling thread (heartbeat() only takes short locks).
  server.routeInline("POST", api::kHeartbeatPath,
                     [this](const HttpRequest& r) { return heartbeat(r); });
  server.route("POST", api::kLeavePath, [this](const HttpRequest& r) { return leave(r); });
  server.route("GET", api::kSnapshotPath, [this](const HttpRequest& r) { return snapshot(r); });
  if (auto started = watchHub_.start(); !started) {
    // Every watch then answers 503 naming this; agents retry.
    spdlog::error("cluster API: {}", started.error().message);
  }
  server.routeAsync("GET", api::kWatchPath,
                    [this](const HttpRequest& r, api::HttpResponder responder) {
                      watch(r, std::move(responder));
                    });
  server.route("POST", api::kRenewPath, [this](const HttpRequest& r) { return renew(r); });
  server.route("POST", api::kTaskStatusPattern,
               [this](const HttpRequest& r) { return taskStatus(r); });
  server.route("POST", api::kManagerCredentialsPath,
               [this](const HttpRequest& r) { return managerCredentials(r); });
}

// A promoted node fetches what a manager needs and a worker never has. Both the caller's
// certificate (renewed for the new role) and its record must say manager: a demoted
// manager's old certificate (admitted until it renews) gets nothing.
HttpResponse ClusterApi::managerCredentials(const HttpRequest& request) {
  auto caller = callerOf(request);
  if (!caller) {
    return api::errorResponse(caller.error());
  }
  if (request.identity->role != kManagerRole || !nodes_.isManager(*caller)) {
    return api::errorResponse(Error{
        ErrorKind::PermissionDenied,
        fmt::format("manager credentials: node {} is not a manager (its certificate says {}); "
                    "promote it with `overmesh node promote` and let it renew its certificate",
                    *caller, request.identity->role)});
  }
  auto ca = caMaterial();
  if (!ca) {
    return api::errorResponse(ca.error().withContext("manager credentials"));
  }
  auto cluster = readCluster(store_);
  if (!cluster) {
    return api::errorResponse(cluster.error().withContext("manager credentials"));
  }
  return HttpResponse{200, dumpJson({{"caKey", ca->keyPem}, {"store", cluster->store}})};
}

// Public: the joining node checks it against its token's fingerprint before it sends
// anything secret.
HttpResponse ClusterApi::caCertificate(const HttpRequest&) {
  auto cluster = readCluster(store_);
  if (!cluster) {
    return api::errorResponse(cluster.error());
  }
  return HttpResponse{200, dumpJson({{"certificate", cluster->caCertificate}})};
}

HttpResponse ClusterApi::join(const HttpRequest& request) {
  auto join = decodeJoinRequest(request.body);
  if (!join) {
    return api::errorResponse(join.error());
  }
  join->sourceAddress = request.peer;
  auto ca = caMaterial();
  if (!ca) {
    return api::errorResponse(ca.error().withContext("swarm join"));
  }
  auto joined = nodes_.join(*join, *ca, prover_.get());
  if (!joined) {
    return api::errorResponse(joined.error());
  }
  nlohmann::json reply = {{"node", joined->node},
                          {"clusterId", joined->clusterId},
                          {"nodeTimeoutMs", joined->nodeTimeoutMs},
                          {"certificate", joined->certificate},
                          {"caCertificate", joined->caCertificate}};
  if (joined->node.role == kManagerRole) {
    // A manager signs joins and renewals itself, and opens the shared store: it gets the
    // CA key (over this TLS connection only) and the store's URL (its TLS files are its own).
    reply["caKey"] = ca->keyPem;
    reply["store"] = joined->store;
  }
  return HttpResponse{200, dumpJson(reply)};
}

HttpResponse ClusterApi::heartbeat(const HttpRequest& request) {
  auto caller = callerOf(request);
  if (!caller) {
    return api::errorResponse(caller.error());
  }
  if (auto elsewhere = notLeader("heartbeat")) {
    return *elsewhere;
  }
  if (auto beat = nodes_.heartbeat(*caller); !beat) {
    return api::errorResponse(beat.error());
  }
  nlohmann::json reply = {{"nodeTimeoutMs", nodes_.nodeTimeout().count()}};
  if (leadership_ != nullptr) {
    auto leader = leadership_->leader();
    std::string leaderId = leader ? leader->nodeId : "";
    std::string leaderAddress = leader ? leader->address : "";
    reply["leader"] = leaderAddress;
    reply["managers"] =
        managerClusterAddresses(nodes_.managers(), leaderId, leaderAddress, clusterPort_);
  }
  return HttpResponse{200, dumpJson(reply)};
}

HttpResponse ClusterApi::leave(const HttpRequest& request) {
  auto caller = callerOf(request);
  if (!caller) {
    return api::errorResponse(caller.error());
  }
  if (auto removed = nodes_.remove(*caller); !removed) {
    return api::errorResponse(removed.error());
  }
  return HttpResponse{200, "{}"};
}

HttpResponse ClusterApi::snapshot(const HttpRequest& request) {
  if (auto caller = callerOf(request); !caller) {
    return api::errorResponse(caller.error());
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

void ClusterApi::watch(const HttpRequest& request, api::HttpResponder responder) {
  if (auto caller = callerOf(request); !caller) {
    responder.respond(api::errorResponse(caller.error()));
    return;
  }
  auto from = numberArgument(request, "from", 0);
  auto waitMs = numberArgument(request, "waitMs", 0);
  if (!from || !waitMs) {
    responder.respond(api::errorResponse(!from ? from.error() : waitMs.error()));
    return;
  }
  auto wait = std::min(std::chrono::milliseconds(*waitMs), api::kMaxWatchWait);
  WatchWaiter waiter{[responder](const WatchAnswer& answer) { responder.respond(*answer); },
                     [responder] { return responder.abandoned(); }};
  watchHub_.watch(*from, wait, std::move(waiter));
}

HttpResponse ClusterApi::renew(const HttpRequest& request) {
  auto caller = callerOf(request);
  if (!caller) {
    return api::errorResponse(caller.error());
  }
  if (auto elsewhere = notLeader("certificate renewal")) {
    return *elsewhere;
  }
  auto csr = decodeRenewRequest(request.body);
  if (!csr) {
    return api::errorResponse(csr.error());
  }
  auto ca = caMaterial();
  if (!ca) {
    return api::errorResponse(ca.error().withContext("certificate renewal"));
  }
  auto certificate = nodes_.renewCertificate(*caller, *csr, *ca);
  if (!certificate) {
    return api::errorResponse(certificate.error());
  }
  return HttpResponse{200, dumpJson({{"certificate", *certificate}})};
}

HttpResponse ClusterApi::taskStatus(const HttpRequest& request) {
  auto caller = callerOf(request);
  if (!caller) {
    return api::errorResponse(caller.error());
  }
  if (auto elsewhere = notLeader("task status")) {
    return *elsewhere;
  }
  auto report = decodeStatusReport(request.body);
  if (!report) {
    return api::errorResponse(report.error());
  }
  report->taskId = request.params[0];
  report->nodeId = *caller;  // reportStatus refuses (403) a task placed elsewhere
  if (auto recorded = tasks_.reportStatus(*report); !recorded) {
    return api::errorResponse(recorded.error());
  }
  return HttpResponse{200, "{}"};
}

}  // namespace overmesh::manager
