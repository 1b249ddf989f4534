#pragma once

// NetworkManager owns the network objects in the Store: it validates a request
// completely, allocates subnet, gateway and VNI (pure IPAM), and writes the network in
// one compare-and-swap transaction, so that a failed request changes nothing and two
// managers can never hand out overlapping subnets or one VNI twice.

#include <mutex>
#include <string>
#include <vector>

#include "api/network_detail.h"
#include "api/types.h"
#include "common/error.h"
#include "store/store.h"

namespace overmesh::manager {

class NetworkManager {
 public:
  explicit NetworkManager(store::Store& store);

  // Creates a network. With request.ingress, the routing mesh's network: every node gets
  // its ingress address in the same transaction. Fails with InvalidArgument (bad field;
  // the message names it), Conflict (name taken, subnet overlaps another network, an
  // ingress network exists already), FailedPrecondition (no cluster, address pools
  // exhausted, no address left for a node) or Unavailable (store error). Nothing is
  // written on failure.
  Result<api::Network> create(const api::NetworkCreateRequest& request);

  // Every network, ordered by name.
  Result<std::vector<api::Network>> list();

  // The network a user reference (ID, name or unique ID prefix) denotes.
  Result<api::Network> inspect(const std::string& reference);

  // The same with the services attached to it (and their VIPs) and its endpoints.
  Result<api::NetworkDetail> inspectDetail(const std::string& reference);

  // Removes a network. Fails with FailedPrecondition while a service or a task is
  // attached to it (the message names them), and for the ingress network while a service
  // publishes a port in ingress mode (named); removing the ingress network clears every
  // node's ingress address in the same transaction.
  Result<api::Network> remove(const std::string& reference);

 private:
  Result<std::vector<std::pair<api::Network, store::Revision>>> readNetworks();

  store::Store& store_;
  // Serialises this manager's allocation decisions; the guard key's compare-and-swap
  // protects against other managers sharing the store.
  std::mutex allocationMutex_;
};

}  // namespace overmesh::manager
