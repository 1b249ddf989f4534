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

// The registry settings (state::keys::kRegistries), with the store revision they were
// read at (0 and empty settings when the key is absent: a cluster initialised without
// them, or before issue 10). Internal when the record does not decode.
struct RegistrySettingsRead {
  api::RegistrySettings settings;
  store::Revision modRevision = 0;
};
Result<RegistrySettingsRead> readRegistrySettings(store::Store& store);

// The IPAM pool settings the cluster was initialised with.
Result<ipam::PoolConfig> poolConfigOf(const api::Cluster& cluster);

}  // namespace overmesh::manager
