#include "manager/node_manager.h"

#include <spdlog/spdlog.h>

#include "common/ids.h"
#include "common/json.h"
#include "common/secret_hash.h"
#include "manager/address_allocation.h"
#include "manager/cluster_record.h"
#include "manager/ingress_network.h"
#include "manager/network_rules.h"
#include "manager/object_lookup.h"
#include "manager/service_validation.h"
#include "manager/store_records.h"
#include "state/keys.h"

namespace overmesh::manager {

NodeManager::NodeManager(store::Store& store, const Clock& clock, std::string selfNodeId)
    : store_(store), clock_(clock), selfNodeId_(std::move(selfNodeId)) {}

Status NodeManager::load() {
  auto cluster = readCluster(store_);
  if (!cluster) {
    return std::unexpected(cluster.error());
  }
  auto nodes = store_.range(std::string(state::keys::kNodes));
  if (!nodes) {
    return std::unexpected(nodes.error());
  }
  auto credentials = store_.range(std::string(state::keys::kNodeCredentials));
  if (!credentials) {
    return std::unexpected(credentials.error());
  }
  std::lock_guard lock(mutex_);
  clusterId_ = cluster->id;
  workerJoinToken_ = cluster->workerJoinToken;
  memberSecret_ = cluster->memberSecret;
  nodeTimeout_ = std::chrono::milliseconds(cluster->nodeTimeoutMs);
  nodes_.clear();
  auto now = clock_.now();
  for (const auto& kv : nodes->kvs) {
    auto node = decodeJson<api::Node>(kv.value, kv.key);
    if (!node) {
      return errorf(ErrorKind::Internal, "corrupt node record: {}", node.error().message);
    }
    nodes_[node->id] = TrackedNode{node->hostname, node->state, "", now};
  }
  for (const auto& kv : credentials->kvs) {
    std::string nodeId = kv.key.substr(state::keys::kNodeCredentials.size());
    if (auto it = nodes_.find(nodeId); it != nodes_.end()) {
      it->second.secretHash = kv.value;
    }
  }
  return {};
}

Result<std::vector<ipam::ExistingNetwork>> NodeManager::existingNetworks(
    const std::vector<api::Network>& networks) {
  std::vector<ipam::ExistingNetwork> existing;
  for (const auto& network : networks) {
    auto subnet = Ipv4Prefix::parse(network.subnet);
    if (!subnet) {
      return errorf(ErrorKind::Internal, "network {} has a corrupt subnet {}", network.name,
                    network.subnet);
    }
    existing.push_back({network.name, *subnet, network.vni});
  }
  return existing;
}

Result<NodeManager::IngressGrant> NodeManager::ingressAddressFor(const api::Network& ingress) {
  // The guard before what it protects: a task or node that takes an address after this
  // read moves it, and the join's compare fails.
  auto guard = guardRevision(store_, state::keys::networkAttachmentGuard(ingress.id));
  if (!guard) {
    return std::unexpected(guard.error());
  }
  auto tasks = readValues<api::Task>(store_, state::keys::kTasks);
  if (!tasks) {
    return std::unexpected(tasks.error());
  }
  auto services = readValues<api::Service>(store_, state::keys::kServices);
  if (!services) {
    return std::unexpected(services.error());
  }
  auto nodes = readValues<api::Node>(store_, state::keys::kNodes);
  if (!nodes) {
    return std::unexpected(nodes.error());
  }
  auto used = usedAddresses(ingress, *tasks, *services, *nodes);
  auto address = allocateAddress(ingress, used);
  if (!address) {
    return std::unexpected(address.error().withContext("ingress address"));
  }
  return IngressGrant{*address, *guard};
}

Result<JoinResult> NodeManager::join(const JoinRequest& request) {
  if (request.hostname.empty() || request.address.empty()) {
    return errorf(ErrorKind::InvalidArgument, "swarm join: the node's hostname and address are "
                                              "required");
  }
  constexpr std::string_view kTokenPrefix = "OMTKN-1-";
  if (!request.token.starts_with(kTokenPrefix)) {
    return errorf(ErrorKind::InvalidArgument,
                  "swarm join: the token is malformed (it starts with {}); get the right one "
                  "with `overmesh swarm join-token worker` on a manager",
                  kTokenPrefix);
  }
  std::lock_guard lock(mutex_);
  if (!constantTimeEquals(request.token, workerJoinToken_)) {
    // "OMTKN-1-<25-character cluster ID>-<secret>": only a token of that shape can be
    // said to belong to another swarm.
    std::string_view rest = std::string_view(request.token).substr(kTokenPrefix.size());
    bool wellFormed = rest.size() > clusterId_.size() + 1 && rest[clusterId_.size()] == '-';
    bool otherCluster = wellFormed && !rest.starts_with(clusterId_);
    return errorf(ErrorKind::Unauthenticated,
                  "swarm join: the join token is not valid{}; get the right one with `overmesh "
                  "swarm join-token worker` on a manager",
                  otherCluster ? " for this swarm (it belongs to another one)" : "");
  }
  api::Node node;
  node.id = newObjectId();
  node.hostname = request.hostname;
  node.address = request.address;
  node.role = "worker";
  node.state = "ready";
  node.createdAt = nowRfc3339();
  node.underlayPrefix = request.underlayPrefix;
  node.gatewaySubnet = request.gatewaySubnet;
  std::string secret = newSecret(32);
  std::string secretHash = hashSecret(secret);

  // A network created while we check would escape the check: read the allocation guard
  // first, write it with the node, and retry when a create moved it in between.
  constexpr int kMaxAttempts = 8;
  bool admitted = false;
  for (int attempt = 0; attempt < kMaxAttempts && !admitted; ++attempt) {
    auto guard = store_.get(std::string(state::keys::kNetworkAllocationGuard));
    if (!guard) {
      return std::unexpected(guard.error().withContext("swarm join"));
    }
    store::Revision guardRevision = *guard ? (*guard)->modRevision : 0;
    auto networkList = readValues<api::Network>(store_, state::keys::kNetworks);
    if (!networkList) {
      return std::unexpected(networkList.error().withContext("swarm join"));
    }
    auto networks = existingNetworks(*networkList);
    if (!networks) {
      return std::unexpected(networks.error().withContext("swarm join"));
    }
    if (auto fits = checkJoiningNode(request.underlayPrefix, request.address,
                                     request.gatewaySubnet, *networks);
        !fits) {
      return std::unexpected(fits.error().withContext("swarm join"));
    }
    store::Txn txn;
    // The node's address on the ingress network, when there is one (created or removed
    // in between: the allocation guard compared below moves).
    node.ingressAddress.clear();
    if (const api::Network* ingress = findIngressNetwork(*networkList)) {
      auto grant = ingressAddressFor(*ingress);
      if (!grant) {
        return std::unexpected(grant.error().withContext("swarm join"));
      }
      node.ingressAddress = grant->address;
      const std::string guardKey = state::keys::networkAttachmentGuard(ingress->id);
      txn.compares.push_back(store::Compare::modRevisionIs(guardKey, grant->guardRevision));
      txn.success.push_back(store::Operation::put(guardKey, node.id));
    }
    txn.compares.push_back(store::Compare::modRevisionIs(
        std::string(state::keys::kNetworkAllocationGuard), guardRevision));
    txn.success.push_back(store::Operation::put(state::keys::node(node.id), encodeJson(node)));
    txn.success.push_back(store::Operation::put(state::keys::nodeCredential(node.id), secretHash));
    txn.success.push_back(
        store::Operation::put(std::string(state::keys::kNetworkAllocationGuard), node.id));
    auto committed = store_.txn(txn);
    if (!committed) {
      return std::unexpected(committed.error().withContext("swarm join"));
    }
    admitted = committed->succeeded;
  }
  if (!admitted) {
    return errorf(ErrorKind::Unavailable,
                  "swarm join: networks kept changing while the node was being admitted; retry");
  }
  nodes_[node.id] = TrackedNode{node.hostname, node.state, secretHash, clock_.now()};
  spdlog::info("node joined id={} hostname={} address={}", node.id, node.hostname, node.address);
  return JoinResult{node, secret, clusterId_, nodeTimeout_.count(), memberSecret_};
}

Result<std::string> NodeManager::authenticate(const std::string& nodeId,
                                              const std::string& secret) {
  std::lock_guard lock(mutex_);
  auto it = nodes_.find(nodeId);
  if (it == nodes_.end() || it->second.secretHash.empty() ||
      !constantTimeEquals(hashSecret(secret), it->second.secretHash)) {
    return errorf(ErrorKind::Unauthenticated,
                  "node {} is not a member of this swarm (or its credentials are wrong); join "
                  "it again with `overmesh swarm join`",
                  nodeId.empty() ? "(none)" : nodeId);
  }
  return nodeId;
}

Status NodeManager::writeState(const std::string& nodeId, const std::string& state) {
  auto record = store_.get(state::keys::node(nodeId));
  if (!record) {
    return std::unexpected(record.error());
  }
  if (!*record) {
    return errorf(ErrorKind::NotFound, "node {} not found", nodeId);
  }
  auto node = decodeJson<api::Node>((*record)->value, (*record)->key);
  if (!node) {
    return errorf(ErrorKind::Internal, "corrupt node record: {}", node.error().message);
  }
  node->state = state;
  store::Txn txn;
  txn.compares.push_back(
      store::Compare::modRevisionIs(state::keys::node(nodeId), (*record)->modRevision));
  txn.success.push_back(store::Operation::put(state::keys::node(nodeId), encodeJson(*node)));
  auto committed = store_.txn(txn);
  if (!committed) {
    return std::unexpected(committed.error());
  }
  if (!committed->succeeded) {
    return errorf(ErrorKind::Conflict, "node {} changed while its state was being written",
                  nodeId);
  }
  return {};
}

Status NodeManager::heartbeat(const std::string& nodeId) {
  std::lock_guard lock(mutex_);
  auto it = nodes_.find(nodeId);
  if (it == nodes_.end()) {
    return errorf(ErrorKind::NotFound, "node {} is not a member of this swarm", nodeId);
  }
  it->second.lastSeen = clock_.now();
  if (it->second.state != "ready") {
    if (auto written = writeState(nodeId, "ready"); !written) {
      return written;
    }
    it->second.state = "ready";
    spdlog::info("node ready id={} hostname={}", nodeId, it->second.hostname);
  }
  return {};
}

Result<api::Node> NodeManager::updateLabels(const std::string& reference,
                                            const NodeUpdateRequest& request) {
  for (const auto& [key, value] : request.labelAdd) {
    if (auto valid = validateLabelKey("--label-add", key); !valid) {
      return std::unexpected(valid.error().withContext("node update"));
    }
    if (value.size() > kMaxLabelValue) {
      return errorf(ErrorKind::InvalidArgument,
                    "node update: --label-add {} has a value of {} bytes: at most {} are allowed",
                    key, value.size(), kMaxLabelValue);
    }
  }
  for (const auto& key : request.labelRm) {
    if (auto valid = validateLabelKey("--label-rm", key); !valid) {
      return std::unexpected(valid.error().withContext("node update"));
    }
    if (request.labelAdd.contains(key)) {
      return errorf(ErrorKind::InvalidArgument,
                    "node update: label {} is both added (--label-add) and removed (--label-rm); "
                    "give it once",
                    key);
    }
  }
  constexpr int kMaxAttempts = 8;
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    auto range = store_.range(std::string(state::keys::kNodes));
    if (!range) {
      return std::unexpected(range.error());
    }
    std::vector<std::pair<api::Node, store::Revision>> nodes;
    std::vector<NamedObject> named;
    for (const auto& kv : range->kvs) {
      auto node = decodeJson<api::Node>(kv.value, kv.key);
      if (!node) {
        return errorf(ErrorKind::Internal, "corrupt node record: {}", node.error().message);
      }
      named.push_back({node->id, node->hostname});
      nodes.emplace_back(std::move(*node), kv.modRevision);
    }
    auto index = findByReference("node", named, reference);
    if (!index) {
      return std::unexpected(index.error().withContext("node update"));
    }
    auto [node, revision] = nodes[*index];
    for (const auto& [key, value] : request.labelAdd) {
      node.labels[key] = value;
    }
    for (const auto& key : request.labelRm) {
      node.labels.erase(key);
    }
    store::Txn txn;
    txn.compares.push_back(store::Compare::modRevisionIs(state::keys::node(node.id), revision));
    txn.success.push_back(store::Operation::put(state::keys::node(node.id), encodeJson(node)));
    auto committed = store_.txn(txn);
    if (!committed) {
      return std::unexpected(committed.error().withContext("node update"));
    }
    if (committed->succeeded) {
      return node;
    }
  }
  return errorf(ErrorKind::Unavailable, "node update: the node kept changing; retry");
}

Status NodeManager::remove(const std::string& nodeId) {
  std::lock_guard lock(mutex_);
  if (nodeId == selfNodeId_) {
    return errorf(ErrorKind::FailedPrecondition,
                  "node {} is the manager; it cannot leave its own swarm", nodeId);
  }
  store::Txn txn;
  txn.success.push_back(store::Operation::del(state::keys::node(nodeId)));
  txn.success.push_back(store::Operation::del(state::keys::nodeCredential(nodeId)));
  auto committed = store_.txn(txn);
  if (!committed) {
    return std::unexpected(committed.error());
  }
  nodes_.erase(nodeId);
  spdlog::info("node left id={}", nodeId);
  return {};
}

Result<std::vector<StateChange>> NodeManager::sweep() {
  std::lock_guard lock(mutex_);
  std::vector<StateChange> changes;
  auto now = clock_.now();
  for (auto& [nodeId, node] : nodes_) {
    if (nodeId == selfNodeId_ || node.state != "ready" || now - node.lastSeen <= nodeTimeout_) {
      continue;
    }
    if (auto written = writeState(nodeId, "down"); !written) {
      if (written.error().kind == ErrorKind::Unavailable) {
        return std::unexpected(written.error());
      }
      continue;  // removed or changed meanwhile: the next sweep sees the new record
    }
    node.state = "down";
    changes.push_back({nodeId, node.hostname, "down"});
    spdlog::warn("node down id={} hostname={} silent_for_ms={}", nodeId, node.hostname,
                 std::chrono::duration_cast<std::chrono::milliseconds>(now - node.lastSeen)
                     .count());
  }
  return changes;
}

}  // namespace overmesh::manager
