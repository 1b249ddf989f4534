#pragma once

// The cluster record (/overmesh/cluster): created by `swarm init`, read by every
// allocation that needs cluster-wide settings.

#include "api/types.h"
#include "common/error.h"
#include "ipam/ipam.h"
#include "store/store.h"

namespace overmesh::manager {

// The cluster record. FailedPrecondition when the store has none (no `swarm init`).
Result<api::Cluster> readCluster(store::Store& store);

// The IPAM pool settings the cluster was initialised with.
Result<ipam::PoolConfig> poolConfigOf(const api::Cluster& cluster);

}  // namespace overmesh::manager
