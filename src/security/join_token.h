#pragma once

// Join tokens: "OMTKN-1-<CA fingerprint>-<secret>".
// - "1" is the format version.
// - The CA fingerprint (64 lower-case hex, pki.h certificateFingerprint) lets a joining
//   node check the manager's certificate before it sends anything secret: no trust on
//   first use.
// - The secret (43 characters of base64url without padding: 32 random bytes) proves the
//   joining node was given the token. The manager stores only hashSecret(secret); the
//   role (worker or manager) is which stored hash the secret matches.

#include <string>
#include <string_view>

#include "common/error.h"

namespace overmesh::security {

inline constexpr std::string_view kJoinTokenPrefix = "OMTKN-1-";

struct JoinToken {
  std::string caFingerprint;
  std::string secret;
};

// A fresh random secret (RAND_bytes).
Result<std::string> generateTokenSecret();

std::string formatJoinToken(const JoinToken& token);

// InvalidArgument naming what is wrong and showing the expected shape, never echoing the
// secret (the message may be logged): "join token is not valid: expected
// OMTKN-1-<64 hex digits>-<43 characters>; get one with `overmesh swarm join-token worker`
// on a manager".
Result<JoinToken> parseJoinToken(std::string_view text);

}  // namespace overmesh::security
