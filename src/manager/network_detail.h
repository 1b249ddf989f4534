#pragma once

// The detail `network inspect` shows, built from records: pure, so that the manager (from
// the Store) and a worker (from its cache) answer alike.

#include <vector>

#include "api/network_detail.h"
#include "api/service_types.h"
#include "api/types.h"

namespace overmesh::manager {

// `network` with the services attached to it (and their VIP on it) and the endpoints of
// the tasks that hold an address on it (address_allocation.h's rule: history is left out).
api::NetworkDetail describeNetwork(const api::Network& network,
                                   const std::vector<api::Service>& services,
                                   const std::vector<api::Task>& tasks);

}  // namespace overmesh::manager
