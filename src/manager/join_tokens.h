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

// What `swarm join --token …` with a manager token answers: the token is valid, but a
// second manager needs consensus among managers, which is issue 13.
inline constexpr std::string_view kManagerJoinRefusal =
    "joining as a manager needs several managers, which overmesh does not support yet (issue "
    "13); use the worker token";

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
// - manager secret: FailedPrecondition kManagerJoinRefusal;
// - worker secret: "worker".
// Empty hashes never match.
Result<std::string> matchJoinToken(const security::JoinToken& token, std::string_view caFingerprint,
                                   const JoinTokenHashes& hashes);

}  // namespace overmesh::manager
