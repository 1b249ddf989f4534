#include "manager/cluster_manager.h"

#include <optional>
#include <set>

#include "common/ids.h"
#include "common/ip.h"
#include "common/json.h"
#include "ipam/ipam.h"
#include "manager/address_allocation.h"
#include "manager/cluster_record.h"
#include "manager/ingress_network.h"
#include "manager/network_rules.h"
#include "manager/registry_settings.h"
#include "state/keys.h"

namespace overmesh::manager {
namespace {

// Below this a busy node's heartbeat could miss the deadline through scheduling noise
// alone; above it an operator waits too long to learn a node died.
constexpr std::int64_t kMinNodeTimeoutMs = 500;
constexpr std::int64_t kMaxNodeTimeoutMs = 600'000;

// The manager's own host networks, as network create sees them once it is recorded.
std::vector<ipam::AvoidedRange> selfNetworks(const LocalNode& self) {
  api::Node node;
  node.hostname = self.hostname;
  node.underlayPrefix = self.underlayPrefix;
  node.gatewaySubnet = self.gatewaySubnet;
  return hostNetworksOf({node});
}

Result<ipam::PoolConfig> poolConfigFromRequest(const api::SwarmInitRequest& request,
                                               const LocalNode& self) {
  ipam::PoolConfig config = ipam::PoolConfig::defaults();
  if (!request.defaultAddrPools.empty()) {
    config.defaultPools.clear();
    for (const auto& text : request.defaultAddrPools) {
      auto pool = Ipv4Prefix::parse(text);
      if (!pool) {
        return errorf(ErrorKind::InvalidArgument, "--default-addr-pool {}: {}", text,
                      pool.error().message);
      }
      config.defaultPools.push_back(*pool);
    }
  }
  if (request.defaultAddrPoolMaskLength) {
    config.subnetLength = *request.defaultAddrPoolMaskLength;
  }
  if (auto valid = ipam::validatePoolConfig(config); !valid) {
    return std::unexpected(valid.error());
  }
  // Only pools the user gave are refused: the built-in 10.0.0.0/8 stays usable on a host
  // whose underlay is inside it, because allocation skips the colliding subnets.
  if (!request.defaultAddrPools.empty()) {
    auto hostNetworks = selfNetworks(self);
    std::vector<Ipv4Prefix> avoided = config.defaultPools;
    for (const auto& range : hostNetworks) {
      avoided.push_back(range.prefix);
    }
    for (const auto& range : ipam::reservedRanges()) {
      avoided.push_back(range.prefix);
    }
    for (const Ipv4Prefix& pool : config.defaultPools) {
      // The example: a private block of the pool's size, else the largest one that is free.
      std::optional<Ipv4Prefix> example;
      for (int length = pool.length(); !example && length <= ipam::kMaxSubnetLength; ++length) {
        example = ipam::firstFreeBlock(ipam::privateRanges(), length, avoided);
      }
      if (auto usable = ipam::checkAvoided("--default-addr-pool", "pool", pool, hostNetworks,
                                           example);
          !usable) {
        return std::unexpected(usable.error());
      }
    }
  }
  return config;
}

// The ingress network's subnet, gateway and VNI: `--ingress-subnet` when given (checked
// like `network create --subnet`), else the first free subnet of the pools. Nothing else
// exists yet, so only the manager's own host networks are in the way.
Result<ipam::NetworkAllocation> ingressAllocation(const api::SwarmInitRequest& request,
                                                  const LocalNode& self,
                                                  const ipam::PoolConfig& pools) {
  std::optional<std::string> subnet;
  if (!request.ingressSubnet.empty()) {
    subnet = request.ingressSubnet;
  }
  auto allocation = ipam::allocateNetwork(
      ipam::NetworkRequest{std::string(kIngressNetworkName), subnet, std::nullopt}, {}, pools,
      selfNetworks(self));
  if (!allocation) {
    return std::unexpected(allocation.error().withContext(
        subnet ? "--ingress-subnet" : "the ingress network (give one with --ingress-subnet)"));
  }
  return allocation;
}

}  // namespace

ClusterManager::ClusterManager(store::Store& store) : store_(store) {}

Status ClusterManager::validateInit(const api::SwarmInitRequest& request,
                                    const LocalNode& self) {
  auto pools = poolConfigFromRequest(request, self);
  if (!pools) {
    return std::unexpected(pools.error().withContext("swarm init"));
  }
  if (auto ingress = ingressAllocation(request, self, *pools); !ingress) {
    return std::unexpected(ingress.error().withContext("swarm init"));
  }
  std::int64_t nodeTimeoutMs = request.nodeTimeoutMs.value_or(3000);
  if (nodeTimeoutMs < kMinNodeTimeoutMs || nodeTimeoutMs > kMaxNodeTimeoutMs) {
    return errorf(ErrorKind::InvalidArgument,
                  "swarm init: --node-timeout {}ms is out of range: use {}ms to {}ms",
                  nodeTimeoutMs, kMinNodeTimeoutMs, kMaxNodeTimeoutMs);
  }
  if (auto registries = normaliseRegistrySettings(request.registries); !registries) {
    return std::unexpected(registries.error().withContext("swarm init"));
  }
  return {};
}

Result<InitResult> ClusterManager::init(const api::SwarmInitRequest& request,
                                        const LocalNode& self) {
  if (auto valid = validateInit(request, self); !valid) {
    return std::unexpected(valid.error());
  }
  auto pools = poolConfigFromRequest(request, self);
  if (!pools) {
    return std::unexpected(pools.error().withContext("swarm init"));
  }
  std::int64_t nodeTimeoutMs = request.nodeTimeoutMs.value_or(3000);
  auto registries = normaliseRegistrySettings(request.registries);
  if (!registries) {
    return std::unexpected(registries.error().withContext("swarm init"));
  }

  api::Cluster cluster;
  cluster.id = newObjectId();
  cluster.createdAt = nowRfc3339();
  for (const auto& pool : pools->defaultPools) {
    cluster.defaultAddrPools.push_back(pool.toString());
  }
  cluster.subnetSize = pools->subnetLength;
  cluster.nodeTimeoutMs = nodeTimeoutMs;
  // Docker's token shape: a fixed prefix, the cluster ID and a secret, so a token that
  // belongs to another cluster is recognisable in the error message.
  cluster.workerJoinToken = "OMTKN-1-" + cluster.id + "-" + newSecret(16);
  cluster.managerAddress = self.managerAddress;
  cluster.memberSecret = newSecret(32);

  api::Node node;
  node.id = newObjectId();
  node.hostname = self.hostname;
  node.address = self.address;
  node.role = "manager";
  node.state = "ready";
  node.createdAt = cluster.createdAt;
  node.underlayPrefix = self.underlayPrefix;
  node.gatewaySubnet = self.gatewaySubnet;

  // The routing mesh's network, in the same transaction: a swarm never exists without it
  // unless a user removes it.
  auto allocation = ingressAllocation(request, self, *pools);
  if (!allocation) {
    return std::unexpected(allocation.error().withContext("swarm init"));
  }
  api::Network ingress;
  ingress.id = newObjectId();
  ingress.name = std::string(kIngressNetworkName);
  ingress.driver = "overlay";
  ingress.subnet = allocation->subnet.toString();
  ingress.gateway = allocation->gateway.toString();
  ingress.vni = allocation->vni;
  ingress.ingress = true;
  ingress.createdAt = cluster.createdAt;
  std::set<Ipv4Address> used;
  auto address = allocateAddress(ingress, used);
  if (!address) {
    return std::unexpected(address.error().withContext("swarm init"));
  }
  node.ingressAddress = *address;

  store::Txn txn;
  txn.compares.push_back(store::Compare::absent(std::string(state::keys::kCluster)));
  txn.success.push_back(
      store::Operation::put(std::string(state::keys::kCluster), encodeJson(cluster)));
  txn.success.push_back(store::Operation::put(state::keys::node(node.id), encodeJson(node)));
  txn.success.push_back(
      store::Operation::put(state::keys::network(ingress.id), encodeJson(ingress)));
  txn.success.push_back(store::Operation::put(state::keys::networkName(ingress.name), ingress.id));
  txn.success.push_back(
      store::Operation::put(std::string(state::keys::kNetworkAllocationGuard), ingress.id));
  txn.success.push_back(
      store::Operation::put(std::string(state::keys::kRegistries), encodeJson(*registries)));
  auto committed = store_.txn(txn);
  if (!committed) {
    return std::unexpected(committed.error().withContext("swarm init"));
  }
  if (!committed->succeeded) {
    return errorf(ErrorKind::FailedPrecondition,
                  "swarm init: this node is already part of a swarm; run `overmesh swarm leave "
                  "--force` first");
  }
  return InitResult{cluster, node, ingress};
}

Result<api::Cluster> ClusterManager::cluster() { return readCluster(store_); }

Result<api::RegistrySettings> ClusterManager::registries() {
  auto read = readRegistrySettings(store_);
  if (!read) {
    return std::unexpected(read.error());
  }
  return read->settings;
}

Result<api::RegistrySettings> ClusterManager::updateRegistries(
    const api::SwarmUpdateRequest& request) {
  // Checked before anything is read: a bad flag is the user's to fix whatever is stored.
  if (auto valid = applySwarmUpdate({}, request); !valid) {
    return std::unexpected(valid.error().withContext("swarm update"));
  }
  constexpr int kMaxAttempts = 8;  // loses only to another concurrent `swarm update`
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    if (auto cluster = readCluster(store_); !cluster) {
      return std::unexpected(cluster.error().withContext("swarm update"));
    }
    auto current = readRegistrySettings(store_);
    if (!current) {
      return std::unexpected(current.error().withContext("swarm update"));
    }
    auto wanted = applySwarmUpdate(current->settings, request);
    if (!wanted) {
      return std::unexpected(wanted.error().withContext("swarm update"));
    }
    const std::string key(state::keys::kRegistries);
    store::Txn txn;
    txn.compares.push_back(current->modRevision == 0
                               ? store::Compare::absent(key)
                               : store::Compare::modRevisionIs(key, current->modRevision));
    txn.success.push_back(store::Operation::put(key, encodeJson(*wanted)));
    auto committed = store_.txn(txn);
    if (!committed) {
      return std::unexpected(committed.error().withContext("swarm update"));
    }
    if (committed->succeeded) {
      return *wanted;
    }
  }
  return errorf(ErrorKind::Unavailable,
                "swarm update: the registry settings kept changing under concurrent updates; "
                "retry");
}

}  // namespace overmesh::manager

// Placeholders (issue 12 contracts): the manager lane replaces them.
namespace overmesh::manager {

Result<std::string> ClusterManager::joinToken(std::string_view, const security::NodePki&) {
  return std::unexpected(Error{ErrorKind::Internal, "join tokens: not implemented yet"});
}

Result<std::string> ClusterManager::rotateJoinToken(std::string_view, security::NodePki&) {
  return std::unexpected(Error{ErrorKind::Internal, "join tokens: not implemented yet"});
}

}  // namespace overmesh::manager
