#include "security/join_token.h"

#include <openssl/rand.h>

#include <algorithm>
#include <array>

#include "common/base64.h"
#include "security/openssl_handles.h"

namespace overmesh::security {
namespace {

constexpr std::size_t kSecretBytes = 32;
constexpr std::size_t kSecretChars = 43;       // base64url of 32 bytes, unpadded
constexpr std::size_t kFingerprintChars = 64;  // SHA-256, hex
constexpr std::string_view kTokenShape =
    "expected OMTKN-1-<64 hex digits>-<43 characters>; get one with `overmesh swarm "
    "join-token worker` on a manager";

bool isLowerHex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

bool isBase64Url(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}

// The message names the part that is wrong but never quotes the token: it holds a secret
// and the message may be logged.
std::unexpected<Error> malformed(std::string_view problem) {
  return errorf(ErrorKind::InvalidArgument, "join token is not valid: {}; {}", problem,
                kTokenShape);
}

std::string_view trimSpace(std::string_view text) {
  auto isSpace = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (!text.empty() && isSpace(text.front())) {
    text.remove_prefix(1);
  }
  while (!text.empty() && isSpace(text.back())) {
    text.remove_suffix(1);
  }
  return text;
}

}  // namespace

Result<std::string> generateTokenSecret() {
  std::array<unsigned char, kSecretBytes> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
    return errorf(ErrorKind::Internal, "join token secret: {}",
                  ossl::opensslErrorText("the random generator failed"));
  }
  std::string secret =
      base64Encode(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
  std::fill(bytes.begin(), bytes.end(), 0);
  // Standard base64 → base64url without padding (RFC 4648 section 5).
  std::erase(secret, '=');
  std::replace(secret.begin(), secret.end(), '+', '-');
  std::replace(secret.begin(), secret.end(), '/', '_');
  return secret;
}

std::string formatJoinToken(const JoinToken& token) {
  return std::string(kJoinTokenPrefix) + token.caFingerprint + "-" + token.secret;
}

Result<JoinToken> parseJoinToken(std::string_view text) {
  // Pasted tokens often carry a newline or spaces around them.
  text = trimSpace(text);
  if (!text.starts_with(kJoinTokenPrefix)) {
    if (text.starts_with("OMTKN-")) {
      return malformed("its format version is not 1 (this overmesh reads only version 1)");
    }
    return malformed("it does not start with OMTKN-1-");
  }
  std::string_view rest = text.substr(kJoinTokenPrefix.size());
  std::size_t dash = rest.find('-');
  if (dash == std::string_view::npos) {
    return malformed("it has no '-' between the CA fingerprint and the secret");
  }
  std::string_view fingerprint = rest.substr(0, dash);
  std::string_view secret = rest.substr(dash + 1);
  if (fingerprint.size() != kFingerprintChars) {
    return malformed(fmt::format("its CA fingerprint has {} characters instead of {}",
                                 fingerprint.size(), kFingerprintChars));
  }
  if (!std::all_of(fingerprint.begin(), fingerprint.end(), isLowerHex)) {
    return malformed("its CA fingerprint holds characters other than 0-9 and a-f");
  }
  if (secret.size() != kSecretChars) {
    return malformed(
        fmt::format("its secret has {} characters instead of {}", secret.size(), kSecretChars));
  }
  if (!std::all_of(secret.begin(), secret.end(), isBase64Url)) {
    return malformed("its secret holds characters other than A-Z, a-z, 0-9, '-' and '_'");
  }
  return JoinToken{std::string(fingerprint), std::string(secret)};
}

}  // namespace overmesh::security
