#include "security/join_token.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "support/scratch.h"

namespace overmesh::security {
namespace {

using testing::must;

const std::string kFingerprint(64, 'a');
// A recognisable secret: no error message may contain it.
const std::string kSecret = "SECRETsecretSECRETsecretSECRETsecret_-0123";

TEST(JoinTokenTest, GeneratedSecretsAre43Base64UrlCharactersAndDiffer) {
  std::string a = must(generateTokenSecret());
  std::string b = must(generateTokenSecret());
  EXPECT_EQ(a.size(), 43u);
  EXPECT_TRUE(std::all_of(a.begin(), a.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '_';
  })) << a;
  EXPECT_NE(a, b);
}

TEST(JoinTokenTest, FormatAndParseRoundTrip) {
  JoinToken token{kFingerprint, must(generateTokenSecret())};
  std::string text = formatJoinToken(token);
  EXPECT_EQ(text, "OMTKN-1-" + kFingerprint + "-" + token.secret);
  JoinToken parsed = must(parseJoinToken(text));
  EXPECT_EQ(parsed.caFingerprint, token.caFingerprint);
  EXPECT_EQ(parsed.secret, token.secret);
}

TEST(JoinTokenTest, SurroundingWhitespaceIsIgnored) {
  std::string secret = kSecret + "x";
  JoinToken parsed = must(parseJoinToken(" OMTKN-1-" + kFingerprint + "-" + secret + "\n"));
  EXPECT_EQ(parsed.secret, secret);
}

TEST(JoinTokenTest, EachMalformedShapeIsRefusedWithoutEchoingTheSecret) {
  std::string secret = kSecret + "x";  // 43 characters
  ASSERT_EQ(secret.size(), 43u);
  struct Case {
    std::string token;
    std::string problem;
  };
  const Case cases[] = {
      {"", "does not start with OMTKN-1-"},
      {"SWMTKN-1-" + kFingerprint + "-" + secret, "does not start with OMTKN-1-"},
      {"OMTKN-2-" + kFingerprint + "-" + secret, "format version is not 1"},
      {"OMTKN-1-" + kFingerprint + std::string(43, 'x'), "no '-' between"},
      {"OMTKN-1-" + kFingerprint.substr(1) + "-" + secret, "63 characters instead of 64"},
      {"OMTKN-1-" + std::string(64, 'A') + "-" + secret, "other than 0-9 and a-f"},
      {"OMTKN-1-" + std::string(63, 'a') + "g-" + secret, "other than 0-9 and a-f"},
      {"OMTKN-1-" + kFingerprint + "-" + kSecret, "42 characters instead of 43"},
      {"OMTKN-1-" + kFingerprint + "-" + secret + "A", "44 characters instead of 43"},
      {"OMTKN-1-" + kFingerprint + "-" + kSecret + "+", "other than A-Z"},
      {"OMTKN-1-" + kFingerprint + "-" + kSecret + "=", "other than A-Z"},
  };
  for (const Case& c : cases) {
    auto result = parseJoinToken(c.token);
    ASSERT_FALSE(result) << c.token;
    EXPECT_EQ(result.error().kind, ErrorKind::InvalidArgument);
    const std::string& message = result.error().message;
    EXPECT_TRUE(message.starts_with("join token is not valid: ")) << message;
    EXPECT_NE(message.find(c.problem), std::string::npos) << message;
    EXPECT_NE(message.find("overmesh swarm join-token worker"), std::string::npos) << message;
    EXPECT_EQ(message.find("SECRET"), std::string::npos) << message;
  }
}

}  // namespace
}  // namespace overmesh::security
