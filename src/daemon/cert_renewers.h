#pragma once

// What the certificate renewal loop (agent/cert_renewal.h) works through on each kind of
// node. A worker asks its manager for a new certificate (POST kRenewPath) and follows
// the cluster's certificate expiry from its cache of the cluster record; a manager signs
// its own with the CA key and reads the expiry from its store.

#include <string>

#include "agent/cert_renewal.h"
#include "agent/manager_endpoints.h"
#include "agent/state_cache.h"
#include "security/node_pki.h"
#include "store/store.h"

namespace overmesh::daemon {

// `pki` and `cache` must outlive the loop that uses the seams; `managers` are the agent's
// (a renewal goes to the leader, as heartbeats do); `sourceAddress` the node's advertise
// address (its calls leave from it).
agent::CertRenewalSeams workerRenewal(security::NodePki& pki,
                                      std::shared_ptr<agent::ManagerEndpoints> managers,
                                      const std::string& sourceAddress,
                                      const agent::StateCache& cache);

// `pki` (holding the CA key) and `store` must outlive the loop.
agent::CertRenewalSeams managerRenewal(security::NodePki& pki, store::Store& store);

// The manager's own renewal, one step: a new key and a certificate for the same identity
// signed with the CA key, valid for `validity`, checked and made current. NotFound when
// this node holds no CA key.
Status renewWithCaKey(security::NodePki& pki, std::chrono::seconds validity, agent::TimePoint now);

}  // namespace overmesh::daemon
