#pragma once

// A node's side of `node promote|demote` (issue 13): the manager changed the role in this
// node's record; the node sees it in its agent's cache and follows. The decision is pure
// (decideRoleTransition); the calls to a manager are the two below, each over mutual TLS
// with the node's current certificate.
//
// Promotion: renewForRole(manager) (the renewal signs the role of the node record), then
// fetchManagerCredentials (the CA key and the store URL; the route wants a manager
// certificate), then the daemon saves ca.key and node.json and starts its manager role.
// Demotion: the daemon stops its manager role, deletes ca.key, renewForRole(worker) at
// another manager, and goes on as a worker.

#include <atomic>
#include <string>
#include <string_view>

#include "common/error.h"
#include "security/node_pki.h"

namespace overmesh::daemon {

enum class RoleTransition { None, Promote, Demote };

// What a node running as `running` does when its record says `recorded` (empty: the
// record is not known yet, or the node was removed; that is no role change).
RoleTransition decideRoleTransition(std::string_view running, std::string_view recorded);

// A new key and a certificate for `role` from the manager at `managerAddress` (IP:PORT;
// POST kRenewPath with the current certificate), checked (key, CA, node ID, `role`) and
// made current in `pki`. A non-leader manager's 421 answer is followed once to the
// leader it names. Unavailable when no manager answers; the manager's error when it
// refuses (its record does not say `role` yet: FailedPrecondition-like Unauthenticated).
Status renewForRole(security::NodePki& pki, const std::string& managerAddress,
                    const std::string& sourceAddress, std::string_view role,
                    const std::atomic<bool>* stopping);

struct ManagerCredentials {
  std::string caKeyPem;
  std::string storeUrl;  // "etcd://H:P,…"
};

// POST kManagerCredentialsPath at `managerAddress` with this node's (manager)
// certificate. Bounded: a key above security::kMaxPemBytes or a URL above 4 KiB is
// refused (Unavailable). PermissionDenied from the manager when the certificate or the
// record is not a manager's.
Result<ManagerCredentials> fetchManagerCredentials(security::NodePki& pki,
                                                   const std::string& managerAddress,
                                                   const std::string& sourceAddress,
                                                   const std::atomic<bool>* stopping);

}  // namespace overmesh::daemon
