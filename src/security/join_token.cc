// Placeholder (issue 12 contracts): the pki lane replaces every body.
#include "security/join_token.h"

namespace overmesh::security {

Result<std::string> generateTokenSecret() {
  return std::unexpected(Error{ErrorKind::Internal, "join token: not implemented yet"});
}
std::string formatJoinToken(const JoinToken& token) {
  return std::string(kJoinTokenPrefix) + token.caFingerprint + "-" + token.secret;
}
Result<JoinToken> parseJoinToken(std::string_view) {
  return std::unexpected(Error{ErrorKind::Internal, "join token: not implemented yet"});
}

}  // namespace overmesh::security
