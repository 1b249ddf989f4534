#include "manager/join_tokens.h"

#include <nlohmann/json.hpp>

#include "common/json.h"
#include "common/quote.h"
#include "common/secret_hash.h"
#include "state/keys.h"

namespace overmesh::manager {

Status checkTokenRole(std::string_view role) {
  if (role != kWorkerRole && role != kManagerRole) {
    return errorf(ErrorKind::InvalidArgument,
                  "join token role {} is not valid: use worker or manager",
                  quote(std::string(role)));
  }
  return {};
}

Result<JoinTokenHashes> readJoinTokenHashes(store::Store& store) {
  auto record = store.get(std::string(state::keys::kJoinTokenHashes));
  if (!record) {
    return std::unexpected(record.error());
  }
  if (!*record) {
    return errorf(ErrorKind::NotFound,
                  "this cluster has no join tokens (it was made by an overmesh without them); "
                  "run `overmesh swarm join-token --rotate worker` to make one");
  }
  JoinTokenHashes hashes;
  auto decoded =
      decodeFields((*record)->value, "join token hashes", [&hashes](const nlohmann::json& json) {
        requireField(json, "worker", hashes.worker);
        requireField(json, "manager", hashes.manager);
      });
  if (!decoded) {
    return errorf(ErrorKind::Internal, "corrupt join token record: {}", decoded.error().message);
  }
  hashes.modRevision = (*record)->modRevision;
  return hashes;
}

std::string encodeJoinTokenHashes(const JoinTokenHashes& hashes) {
  return dumpJson({{"worker", hashes.worker}, {"manager", hashes.manager}});
}

bool isSharedStore(std::string_view storeUrl) { return storeUrl.starts_with("etcd://"); }

Result<ClearJoinTokens> readClearJoinTokens(store::Store& store) {
  auto record = store.get(std::string(state::keys::kJoinTokens));
  if (!record) {
    return std::unexpected(record.error());
  }
  if (!*record) {
    return errorf(ErrorKind::NotFound,
                  "this cluster's store holds no join tokens; run `overmesh swarm join-token "
                  "--rotate worker` (and manager) on a manager to make them");
  }
  ClearJoinTokens tokens;
  auto decoded =
      decodeFields((*record)->value, "join tokens", [&tokens](const nlohmann::json& json) {
        requireField(json, "worker", tokens.worker);
        requireField(json, "manager", tokens.manager);
      });
  if (!decoded) {
    return errorf(ErrorKind::Internal, "corrupt join token record: {}", decoded.error().message);
  }
  tokens.modRevision = (*record)->modRevision;
  return tokens;
}

std::string encodeClearJoinTokens(const ClearJoinTokens& tokens) {
  return dumpJson({{"worker", tokens.worker}, {"manager", tokens.manager}});
}

Result<std::string> matchJoinToken(const security::JoinToken& token, std::string_view caFingerprint,
                                   const JoinTokenHashes& hashes, bool sharedStore) {
  if (caFingerprint.empty() || !constantTimeEquals(token.caFingerprint, caFingerprint)) {
    return errorf(ErrorKind::Unauthenticated,
                  "the join token was made for another cluster (it pins CA fingerprint {}, this "
                  "cluster's is {}); get this cluster's with `overmesh swarm join-token worker` "
                  "on its manager",
                  token.caFingerprint, caFingerprint);
  }
  std::string presented = hashSecret(token.secret);
  // Both compares always run: the time taken does not tell which role came closer.
  bool worker = !hashes.worker.empty() && constantTimeEquals(presented, hashes.worker);
  bool manager = !hashes.manager.empty() && constantTimeEquals(presented, hashes.manager);
  if (manager) {
    if (!sharedStore) {
      return errorf(ErrorKind::FailedPrecondition, "{}", kSharedStoreRequired);
    }
    return std::string(kManagerRole);
  }
  if (!worker) {
    return errorf(ErrorKind::Unauthenticated,
                  "the join token is not valid (or was rotated); get the current one with "
                  "`overmesh swarm join-token worker` on a manager");
  }
  return std::string(kWorkerRole);
}

}  // namespace overmesh::manager
