#include "manager/cluster_manager.h"

#include <fmt/format.h>

#include <optional>
#include <set>

#include "common/ids.h"
#include "common/ip.h"
#include "common/json.h"
#include "common/quote.h"
#include "common/secret_hash.h"
#include "ipam/ipam.h"
#include "manager/address_allocation.h"
#include "manager/cert_expiry.h"
#include "manager/cluster_record.h"
#include "manager/ingress_network.h"
#include "manager/join_tokens.h"
#include "manager/network_rules.h"
#include "manager/registry_settings.h"
#include "security/join_token.h"
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

// A join token for the CA with `fingerprint` and a fresh secret, and that secret's hash.
struct NewToken {
  std::string token;
  std::string hash;
};
Result<NewToken> newJoinToken(const std::string& fingerprint) {
  auto secret = security::generateTokenSecret();
  if (!secret) {
    return std::unexpected(secret.error());
  }
  return NewToken{security::formatJoinToken({fingerprint, *secret}), hashSecret(*secret)};
}

// What init makes besides records: the CA, the manager's own key and certificate, and the
// two join tokens. Sets cluster.caCertificate and caFingerprint.
struct InitKeys {
  InitPki files;
  JoinTokenHashes hashes;
};
Result<InitKeys> makeInitPki(api::Cluster& cluster, const std::string& nodeId) {
  auto now = std::chrono::system_clock::now();
  auto ca = security::createCa(cluster.id, now);
  if (!ca) {
    return std::unexpected(ca.error().withContext("cluster CA"));
  }
  auto fingerprint = security::certificateFingerprint(ca->certPem);
  if (!fingerprint) {
    return std::unexpected(fingerprint.error().withContext("cluster CA"));
  }
  auto key = security::generateKey();
  if (!key) {
    return std::unexpected(key.error().withContext("manager key"));
  }
  auto csr = security::makeCsr(key->privateKeyPem, nodeId);
  if (!csr) {
    return std::unexpected(csr.error().withContext("manager key"));
  }
  auto cert = security::signNodeCertificate(
      *ca, *csr, {nodeId, std::string(kManagerRole), cluster.id}, certValidity(cluster), now);
  if (!cert) {
    return std::unexpected(cert.error().withContext("manager certificate"));
  }
  auto worker = newJoinToken(*fingerprint);
  auto manager = newJoinToken(*fingerprint);
  if (!worker || !manager) {
    return std::unexpected((!worker ? worker.error() : manager.error()).withContext("join token"));
  }
  cluster.caCertificate = ca->certPem;
  cluster.caFingerprint = *fingerprint;
  InitKeys keys;
  keys.files = InitPki{std::move(*ca), std::move(key->privateKeyPem), std::move(*cert),
                       std::move(worker->token), std::move(manager->token)};
  keys.hashes.worker = std::move(worker->hash);
  keys.hashes.manager = std::move(manager->hash);
  return keys;
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
  if (request.certExpiryMs) {
    if (auto expiry = checkCertExpiry(*request.certExpiryMs, "--cert-expiry"); !expiry) {
      return std::unexpected(expiry.error().withContext("swarm init"));
    }
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

  const std::string storeUrl = request.store.empty() ? "sqlite" : request.store;
  if (storeUrl != "sqlite" && !isSharedStore(storeUrl)) {
    return errorf(ErrorKind::InvalidArgument,
                  "swarm init: --store {} is not valid: use sqlite or etcd://HOST:PORT[,…]",
                  quote(storeUrl, 200));
  }

  api::Cluster cluster;
  cluster.id = newObjectId();
  cluster.store = storeUrl;
  cluster.createdAt = nowRfc3339();
  for (const auto& pool : pools->defaultPools) {
    cluster.defaultAddrPools.push_back(pool.toString());
  }
  cluster.subnetSize = pools->subnetLength;
  cluster.nodeTimeoutMs = nodeTimeoutMs;
  cluster.managerAddress = self.managerAddress;
  cluster.certExpiryMs = request.certExpiryMs.value_or(api::kDefaultCertExpiryMs);

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

  auto pki = makeInitPki(cluster, node.id);
  if (!pki) {
    return std::unexpected(pki.error().withContext("swarm init"));
  }

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
  txn.success.push_back(store::Operation::put(std::string(state::keys::kJoinTokenHashes),
                                              encodeJoinTokenHashes(pki->hashes)));
  if (isSharedStore(cluster.store)) {
    ClearJoinTokens clear{pki->files.workerToken, pki->files.managerToken, 0};
    txn.success.push_back(
        store::Operation::put(std::string(state::keys::kJoinTokens), encodeClearJoinTokens(clear)));
  }
  auto committed = store_.txn(txn);
  if (!committed) {
    return std::unexpected(committed.error().withContext("swarm init"));
  }
  if (!committed->succeeded) {
    return errorf(ErrorKind::FailedPrecondition,
                  "swarm init: this node is already part of a swarm; run `overmesh swarm leave "
                  "--force` first");
  }
  return InitResult{cluster, node, ingress, std::move(pki->files)};
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

namespace overmesh::manager {

Result<std::string> ClusterManager::joinToken(std::string_view role, const security::NodePki& pki) {
  if (auto valid = checkTokenRole(role); !valid) {
    return std::unexpected(valid.error().withContext("swarm join-token"));
  }
  auto cluster = readCluster(store_);
  if (!cluster) {
    return std::unexpected(cluster.error().withContext("swarm join-token"));
  }
  if (isSharedStore(cluster->store)) {
    auto tokens = readClearJoinTokens(store_);
    if (!tokens) {
      return std::unexpected(tokens.error().withContext("swarm join-token"));
    }
    return role == kWorkerRole ? tokens->worker : tokens->manager;
  }
  if (role == kManagerRole) {
    return errorf(ErrorKind::FailedPrecondition, "swarm join-token: {}", kSharedStoreRequired);
  }
  auto token = pki.token(role);
  if (!token) {
    return std::unexpected(token.error().withContext(
        fmt::format("swarm join-token: the {} token (make a new one with `overmesh swarm "
                    "join-token --rotate {}`)",
                    role, role)));
  }
  // The file must be the token the store knows: a rotation interrupted between storing
  // the new hash and writing the file leaves the old, now dead token there.
  auto hashes = readJoinTokenHashes(store_);
  if (!hashes) {
    return std::unexpected(hashes.error().withContext("swarm join-token"));
  }
  auto parsed = security::parseJoinToken(*token);
  const std::string& stored = role == kWorkerRole ? hashes->worker : hashes->manager;
  if (!parsed || parsed->caFingerprint != cluster->caFingerprint ||
      !constantTimeEquals(hashSecret(parsed->secret), stored)) {
    return errorf(ErrorKind::FailedPrecondition,
                  "swarm join-token: the saved {} token in {} is not the cluster's current one "
                  "(a rotation was interrupted); run `overmesh swarm join-token --rotate {}`",
                  role, pki.directory(), role);
  }
  return token;
}

// The hash is stored first (a compare on the record's revision), then the clear token is
// written to pki/. From the store write on, the old token joins nothing. A crash or a
// failed file write in between leaves the old token in the file: joinToken() then refuses
// to show it (it no longer matches the hash) and asks for another rotation, so nobody is
// ever handed a token that does not join, and no moment exists where the old one still
// joins after this returned.
Result<std::string> ClusterManager::rotateJoinToken(std::string_view role, security::NodePki& pki) {
  if (auto valid = checkTokenRole(role); !valid) {
    return std::unexpected(valid.error().withContext("swarm join-token --rotate"));
  }
  auto cluster = readCluster(store_);
  if (!cluster) {
    return std::unexpected(cluster.error().withContext("swarm join-token --rotate"));
  }
  const bool shared = isSharedStore(cluster->store);
  if (!shared && role == kManagerRole) {
    return errorf(ErrorKind::FailedPrecondition, "swarm join-token --rotate: {}",
                  kSharedStoreRequired);
  }
  constexpr int kMaxAttempts = 8;  // loses only to another concurrent rotation
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    auto hashes = readJoinTokenHashes(store_);
    if (!hashes && hashes.error().kind != ErrorKind::NotFound) {
      return std::unexpected(hashes.error().withContext("swarm join-token --rotate"));
    }
    JoinTokenHashes wanted = hashes ? *hashes : JoinTokenHashes{};
    auto fresh = newJoinToken(cluster->caFingerprint);
    if (!fresh) {
      return std::unexpected(fresh.error().withContext("swarm join-token --rotate"));
    }
    (role == kWorkerRole ? wanted.worker : wanted.manager) = fresh->hash;
    const std::string key(state::keys::kJoinTokenHashes);
    store::Txn txn;
    txn.compares.push_back(hashes ? store::Compare::modRevisionIs(key, hashes->modRevision)
                                  : store::Compare::absent(key));
    txn.success.push_back(store::Operation::put(key, encodeJoinTokenHashes(wanted)));
    if (shared) {
      // Both records in one transaction: every manager shows the token that joins.
      auto clear = readClearJoinTokens(store_);
      if (!clear && clear.error().kind != ErrorKind::NotFound) {
        return std::unexpected(clear.error().withContext("swarm join-token --rotate"));
      }
      ClearJoinTokens next = clear ? *clear : ClearJoinTokens{};
      (role == kWorkerRole ? next.worker : next.manager) = fresh->token;
      const std::string clearKey(state::keys::kJoinTokens);
      txn.compares.push_back(clear ? store::Compare::modRevisionIs(clearKey, clear->modRevision)
                                   : store::Compare::absent(clearKey));
      txn.success.push_back(store::Operation::put(clearKey, encodeClearJoinTokens(next)));
    }
    auto committed = store_.txn(txn);
    if (!committed) {
      return std::unexpected(committed.error().withContext("swarm join-token --rotate"));
    }
    if (!committed->succeeded) {
      continue;
    }
    if (shared) {
      return fresh->token;
    }
    if (auto saved = pki.saveToken(role, fresh->token); !saved) {
      return std::unexpected(saved.error().withContext(fmt::format(
          "swarm join-token --rotate: the old {} token no longer joins, but the new one could "
          "not be saved; rotate again",
          role)));
    }
    return fresh->token;
  }
  return errorf(ErrorKind::Unavailable,
                "swarm join-token --rotate: the tokens kept changing under concurrent rotations; "
                "retry");
}

Result<std::int64_t> ClusterManager::updateCertExpiry(std::int64_t certExpiryMs) {
  if (auto valid = checkCertExpiry(certExpiryMs, "--cert-expiry"); !valid) {
    return std::unexpected(valid.error().withContext("swarm update"));
  }
  constexpr int kMaxAttempts = 8;
  const std::string key(state::keys::kCluster);
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    auto record = store_.get(key);
    if (!record) {
      return std::unexpected(record.error().withContext("swarm update"));
    }
    if (!*record) {
      return std::unexpected(readCluster(store_).error().withContext("swarm update"));
    }
    auto cluster = decodeJson<api::Cluster>((*record)->value, "cluster record");
    if (!cluster) {
      return errorf(ErrorKind::Internal, "swarm update: corrupt cluster record: {}",
                    cluster.error().message);
    }
    cluster->certExpiryMs = certExpiryMs;
    store::Txn txn;
    txn.compares.push_back(store::Compare::modRevisionIs(key, (*record)->modRevision));
    txn.success.push_back(store::Operation::put(key, encodeJson(*cluster)));
    auto committed = store_.txn(txn);
    if (!committed) {
      return std::unexpected(committed.error().withContext("swarm update"));
    }
    if (committed->succeeded) {
      return certExpiryMs;
    }
  }
  return errorf(ErrorKind::Unavailable,
                "swarm update: the cluster record kept changing under concurrent updates; retry");
}

}  // namespace overmesh::manager
