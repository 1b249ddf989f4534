#pragma once

// The join tokens' side on the manager (security/join_token.h has their shape): the
// record of their secrets' hashes (state::keys::kJoinTokenHashes, never sent to agents)
// and the pure decision which role, if any, a presented token joins as.

#include <string>
#include <string_view>

#include "common/error.h"
#include "security/join_token.h"
#include "store/store.h"

namespace overmesh::manager {

inline constexpr std::string_view kWorkerRole = "worker";
inline constexpr std::string_view kManagerRole = "manager";

// What a second manager is told on a cluster whose store is the embedded SQLite file (one
// manager's own): `swarm join` with the manager token, `swarm join-token manager`, and
// `node promote`. Several managers share the state through etcd.
inline constexpr std::string_view kSharedStoreRequired =
    "a second manager needs a shared store: `swarm init --store etcd://…`";

// True when the cluster record's store URL (api::Cluster::store) names a store several
// managers share (etcd); "", "sqlite" and anything else are one manager's own.
bool isSharedStore(std::string_view storeUrl);

// The clear join tokens of a cluster on a shared store (state::keys::kJoinTokens), so that
// every manager can show them; with the store revision read at (0 when absent).
struct ClearJoinTokens {
  std::string worker;
  std::string manager;
  store::Revision modRevision = 0;
};
// NotFound when the record is absent; Internal when it does not decode.
Result<ClearJoinTokens> readClearJoinTokens(store::Store& store);
std::string encodeClearJoinTokens(const ClearJoinTokens& tokens);

// hashSecret() of each role's current secret, with the store revision read at (0 when
// the record is absent).
struct JoinTokenHashes {
  std::string worker;
  std::string manager;
  store::Revision modRevision = 0;
};

// InvalidArgument naming `role` unless it is "worker" or "manager".
Status checkTokenRole(std::string_view role);

// The record; NotFound when the store has none (a cluster made before issue 12), Internal
// when it does not decode.
Result<JoinTokenHashes> readJoinTokenHashes(store::Store& store);
std::string encodeJoinTokenHashes(const JoinTokenHashes& hashes);

// The role `token` admits to the cluster whose CA has `caFingerprint`, checked in this
// order so that nothing about the secrets leaks to a token of another cluster:
// - fingerprint differs: Unauthenticated "the join token was made for another cluster";
// - secret matches neither hash (constant-time compares against both): Unauthenticated;
// - manager secret: "manager" when `sharedStore` (the cluster's store is etcd), else
//   FailedPrecondition kSharedStoreRequired;
// - worker secret: "worker".
// Empty hashes never match.
Result<std::string> matchJoinToken(const security::JoinToken& token, std::string_view caFingerprint,
                                   const JoinTokenHashes& hashes, bool sharedStore);

}  // namespace overmesh::manager
