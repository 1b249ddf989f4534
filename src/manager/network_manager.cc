#include "manager/network_manager.h"

#include <algorithm>
#include <set>

#include "common/ids.h"
#include "common/ip.h"
#include "common/json.h"
#include "ipam/ipam.h"
#include "manager/address_allocation.h"
#include "manager/cluster_record.h"
#include "manager/ingress_network.h"
#include "manager/network_detail.h"
#include "manager/network_rules.h"
#include "manager/object_lookup.h"
#include "manager/store_records.h"
#include "state/keys.h"

namespace overmesh::manager {
namespace {

// A compare-and-swap loses only when another writer allocated at the same moment; a
// few retries settle it, more would mean a livelock worth reporting.
constexpr int kMaxAllocationAttempts = 8;

}  // namespace

NetworkManager::NetworkManager(store::Store& store) : store_(store) {}

Result<std::vector<std::pair<api::Network, store::Revision>>> NetworkManager::readNetworks() {
  auto range = store_.range(std::string(state::keys::kNetworks));
  if (!range) {
    return std::unexpected(range.error());
  }
  std::vector<std::pair<api::Network, store::Revision>> networks;
  networks.reserve(range->kvs.size());
  for (const auto& kv : range->kvs) {
    auto network = decodeJson<api::Network>(kv.value, kv.key);
    if (!network) {
      return errorf(ErrorKind::Internal, "corrupt network record: {}", network.error().message);
    }
    networks.emplace_back(std::move(*network), kv.modRevision);
  }
  std::sort(networks.begin(), networks.end(),
            [](const auto& a, const auto& b) { return a.first.name < b.first.name; });
  return networks;
}

Result<api::Network> NetworkManager::create(const api::NetworkCreateRequest& request) {
  if (auto valid = validateNetworkCreate(request); !valid) {
    return std::unexpected(valid.error().withContext("network create"));
  }
  std::lock_guard lock(allocationMutex_);
  for (int attempt = 0; attempt < kMaxAllocationAttempts; ++attempt) {
    auto cluster = readCluster(store_);
    if (!cluster) {
      return std::unexpected(cluster.error().withContext("network create"));
    }
    auto pools = poolConfigOf(*cluster);
    if (!pools) {
      return std::unexpected(pools.error().withContext("network create"));
    }
    // Read the guard before the networks: a create that lands in between changes the
    // guard, so our compare below fails and we retry with fresh data.
    auto guard = store_.get(std::string(state::keys::kNetworkAllocationGuard));
    if (!guard) {
      return std::unexpected(guard.error());
    }
    store::Revision guardRevision = *guard ? (*guard)->modRevision : 0;
    auto networks = readNetworks();
    if (!networks) {
      return std::unexpected(networks.error());
    }
    std::vector<ipam::ExistingNetwork> existing;
    for (const auto& [network, revision] : *networks) {
      if (request.ingress && network.ingress) {
        return errorf(ErrorKind::Conflict,
                      "network create: an ingress network is already present: {} (ID {}); a "
                      "swarm has one, so remove it first (`overmesh network rm {}`, refused "
                      "while services publish ports in ingress mode)",
                      network.name, shortId(network.id), network.name);
      }
      if (network.name == request.name) {
        return errorf(ErrorKind::Conflict,
                      "network create: a network named {} already exists (ID {}); choose "
                      "another name or remove it first",
                      request.name, shortId(network.id));
      }
      auto subnet = Ipv4Prefix::parse(network.subnet);
      if (!subnet) {
        return errorf(ErrorKind::Internal, "network {} has a corrupt subnet {}", network.name,
                      network.subnet);
      }
      existing.push_back({network.name, *subnet, network.vni});
    }
    // The members' underlay networks and gateway-bridge subnets, read after the guard: a
    // join that lands in between changes the guard too (NodeManager::join).
    auto nodeRecords = readRecords<api::Node>(store_, state::keys::kNodes);
    if (!nodeRecords) {
      return std::unexpected(nodeRecords.error().withContext("network create"));
    }
    std::vector<api::Node> nodes;
    for (const auto& [node, nodeRevision] : *nodeRecords) {
      nodes.push_back(node);
    }
    auto allocation =
        ipam::allocateNetwork(ipam::NetworkRequest{request.name, request.subnet, request.gateway},
                              existing, *pools, hostNetworksOf(nodes));
    if (!allocation) {
      return std::unexpected(allocation.error().withContext("network create"));
    }

    api::Network network;
    network.id = newObjectId();
    network.name = request.name;
    network.driver = request.driver;
    network.subnet = allocation->subnet.toString();
    network.gateway = allocation->gateway.toString();
    network.vni = allocation->vni;
    network.attachable = request.attachable;
    network.internal = request.internal;
    network.ingress = request.ingress;
    network.labels = request.labels;
    network.options = request.options;
    network.createdAt = nowRfc3339();

    store::Txn txn;
    txn.compares.push_back(store::Compare::absent(state::keys::networkName(request.name)));
    txn.compares.push_back(store::Compare::modRevisionIs(
        std::string(state::keys::kNetworkAllocationGuard), guardRevision));
    txn.success.push_back(
        store::Operation::put(state::keys::network(network.id), encodeJson(network)));
    txn.success.push_back(
        store::Operation::put(state::keys::networkName(network.name), network.id));
    txn.success.push_back(
        store::Operation::put(std::string(state::keys::kNetworkAllocationGuard), network.id));
    if (network.ingress) {
      // Every node gets its address on the new network in the same transaction. A join
      // in between moves the allocation guard (compared above); a node rewritten in
      // between fails its compare; either way the next attempt reads again.
      std::set<Ipv4Address> used;
      for (auto& node : nodes) {
        node.ingressAddress.clear();  // left by no one: `network rm` clears them all
      }
      auto changed = assignIngressAddresses(network, nodes, used);
      if (!changed) {
        return std::unexpected(changed.error().withContext("network create"));
      }
      for (std::size_t i = 0; i < nodes.size(); ++i) {
        const std::string key = state::keys::node(nodes[i].id);
        txn.compares.push_back(store::Compare::modRevisionIs(key, (*nodeRecords)[i].second));
        txn.success.push_back(store::Operation::put(key, encodeJson(nodes[i])));
      }
      txn.compares.push_back(
          store::Compare::modRevisionIs(state::keys::networkAttachmentGuard(network.id), 0));
      txn.success.push_back(
          store::Operation::put(state::keys::networkAttachmentGuard(network.id), network.id));
    }
    auto committed = store_.txn(txn);
    if (!committed) {
      return std::unexpected(committed.error().withContext("network create"));
    }
    if (committed->succeeded) {
      return network;
    }
  }
  return errorf(ErrorKind::Unavailable,
                "network create: the allocation kept changing under concurrent requests; retry");
}

Result<std::vector<api::Network>> NetworkManager::list() {
  auto networks = readNetworks();
  if (!networks) {
    return std::unexpected(networks.error());
  }
  std::vector<api::Network> result;
  for (auto& [network, revision] : *networks) {
    result.push_back(std::move(network));
  }
  return result;
}

Result<api::Network> NetworkManager::inspect(const std::string& reference) {
  auto networks = readNetworks();
  if (!networks) {
    return std::unexpected(networks.error());
  }
  auto index = findByReference("network", namesOf(*networks), reference);
  if (!index) {
    return std::unexpected(index.error());
  }
  return (*networks)[*index].first;
}

Result<api::NetworkDetail> NetworkManager::inspectDetail(const std::string& reference) {
  auto network = inspect(reference);
  if (!network) {
    return std::unexpected(network.error());
  }
  auto services = readValues<api::Service>(store_, state::keys::kServices);
  if (!services) {
    return std::unexpected(services.error());
  }
  auto tasks = readValues<api::Task>(store_, state::keys::kTasks);
  if (!tasks) {
    return std::unexpected(tasks.error());
  }
  return describeNetwork(*network, *services, *tasks);
}

Result<api::Network> NetworkManager::remove(const std::string& reference) {
  std::lock_guard lock(allocationMutex_);
  auto networks = readNetworks();
  if (!networks) {
    return std::unexpected(networks.error());
  }
  auto index = findByReference("network", namesOf(*networks), reference);
  if (!index) {
    return std::unexpected(index.error().withContext("network rm"));
  }
  const auto& [network, revision] = (*networks)[*index];
  // Read before the services: a service that publishes an ingress-mode port after this
  // read moves the guard, and the compare below refuses the delete.
  auto portsGuard = guardRevision(store_, std::string(state::keys::kPublishedPortsGuard));
  if (!portsGuard) {
    return std::unexpected(portsGuard.error());
  }

  // Read the attachment guard before the tasks: a task that attaches after this read
  // changes the guard, and the compare below then refuses the delete.
  auto attachmentGuard = store_.get(state::keys::networkAttachmentGuard(network.id));
  if (!attachmentGuard) {
    return std::unexpected(attachmentGuard.error());
  }
  store::Revision attachmentRevision = *attachmentGuard ? (*attachmentGuard)->modRevision : 0;
  // Services first: their tasks are listed below too, but removing the service is what
  // the user has to do.
  auto services = readRecords<api::Service>(store_, state::keys::kServices);
  if (!services) {
    return std::unexpected(services.error());
  }
  if (network.ingress) {
    auto dependents = servicesPublishingIngress(valuesOf(*services));
    if (!dependents.empty()) {
      return errorf(ErrorKind::FailedPrecondition,
                    "network rm: ingress network {} cannot be removed because service(s) {} "
                    "depend on it (they publish ports in ingress mode); remove those ports "
                    "(`overmesh service update --publish-rm PORT SERVICE`) or the services first",
                    network.name, fmt::join(dependents, ", "));
    }
  }
  std::vector<std::string> users;
  for (const auto& [service, serviceRevision] : *services) {
    for (const auto& attachment : service.attachments) {
      if (attachment.networkId == network.id) {
        users.push_back(service.spec.name);
      }
    }
  }
  if (!users.empty()) {
    std::sort(users.begin(), users.end());
    return errorf(ErrorKind::FailedPrecondition,
                  "network rm: network {} is in use by service(s) {}; remove them first "
                  "(`overmesh service rm {}`)",
                  network.name, fmt::join(users, ", "), fmt::join(users, " "));
  }
  auto tasks = store_.range(std::string(state::keys::kTasks));
  if (!tasks) {
    return std::unexpected(tasks.error());
  }
  std::vector<std::string> attached;
  for (const auto& kv : tasks->kvs) {
    auto task = decodeJson<api::Task>(kv.value, kv.key);
    if (!task) {
      return errorf(ErrorKind::Internal, "corrupt task record: {}", task.error().message);
    }
    // On the ingress network only tasks that hold their address count: the history of a
    // service whose ingress ports were removed must not keep the network in place (its
    // records are not used to build anything).
    if (network.ingress && !holdsAddresses(*task)) {
      continue;
    }
    for (const auto& attachment : task->attachments) {
      if (attachment.networkId == network.id) {
        attached.push_back(task->name.empty() ? shortId(task->id) : task->name);
      }
    }
  }
  if (!attached.empty()) {
    return errorf(ErrorKind::FailedPrecondition,
                  "network rm: network {} is in use by task(s) {}; remove them first",
                  network.name, fmt::join(attached, ", "));
  }

  store::Txn txn;
  txn.compares.push_back(store::Compare::modRevisionIs(state::keys::network(network.id), revision));
  txn.compares.push_back(store::Compare::modRevisionIs(
      state::keys::networkAttachmentGuard(network.id), attachmentRevision));
  txn.success.push_back(store::Operation::del(state::keys::network(network.id)));
  txn.success.push_back(store::Operation::del(state::keys::networkName(network.name)));
  txn.success.push_back(store::Operation::del(state::keys::networkAttachmentGuard(network.id)));
  txn.success.push_back(
      store::Operation::put(std::string(state::keys::kNetworkAllocationGuard), network.id));
  if (network.ingress) {
    txn.compares.push_back(
        store::Compare::modRevisionIs(std::string(state::keys::kPublishedPortsGuard), *portsGuard));
    // The nodes' addresses go with the network, in the same transaction.
    auto nodes = readRecords<api::Node>(store_, state::keys::kNodes);
    if (!nodes) {
      return std::unexpected(nodes.error());
    }
    for (auto& [node, nodeRevision] : *nodes) {
      if (node.ingressAddress.empty()) {
        continue;
      }
      node.ingressAddress.clear();
      txn.compares.push_back(
          store::Compare::modRevisionIs(state::keys::node(node.id), nodeRevision));
      txn.success.push_back(store::Operation::put(state::keys::node(node.id), encodeJson(node)));
    }
  }
  auto committed = store_.txn(txn);
  if (!committed) {
    return std::unexpected(committed.error().withContext("network rm"));
  }
  if (!committed->succeeded) {
    return errorf(ErrorKind::Conflict,
                  "network rm: network {} changed while it was being removed; retry",
                  network.name);
  }
  return network;
}

}  // namespace overmesh::manager
