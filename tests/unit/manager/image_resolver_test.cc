#include "manager/image_resolver.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "manager/image_pinning.h"
#include "support/fake_image_resolver.h"

namespace overmesh::manager {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

const std::string kDigest = "sha256:" + std::string(64, 'a');

ImageReference reference(std::string_view text) {
  auto parsed = parseImageReference(text);
  EXPECT_TRUE(parsed) << text;
  return *parsed;
}

TEST(RegistryCandidates, AnotherRegistryIsAskedAloneWithTlsUnlessInsecure) {
  EXPECT_EQ(registryCandidates(reference("198.18.0.101:5000/web:1"), {}),
            (std::vector<RegistryCandidate>{{"198.18.0.101:5000/web:1", true}}));
  EXPECT_EQ(registryCandidates(reference("198.18.0.101:5000/web:1"),
                               {{"198.18.0.101:5000"}, {"http://198.18.0.102:5000"}}),
            (std::vector<RegistryCandidate>{{"198.18.0.101:5000/web:1", false}}));
}

TEST(RegistryCandidates, DockerHubNamesGoToEachMirrorFirstThenDockerHub) {
  api::RegistrySettings settings{
      {"mirror2.lab"}, {"http://198.18.0.101:5000", "https://mirror2.lab", "https://mirror3.lab"}};
  EXPECT_EQ(registryCandidates(reference("web:1"), settings),
            (std::vector<RegistryCandidate>{{"198.18.0.101:5000/library/web:1", false},
                                            {"mirror2.lab/library/web:1", false},
                                            {"mirror3.lab/library/web:1", true},
                                            {"docker.io/library/web:1", true}}));
  EXPECT_EQ(registryCandidates(reference("user/app"), {}),
            (std::vector<RegistryCandidate>{{"docker.io/user/app:latest", true}}));
}

TEST(ImagePinning, ATagIsPinnedToTheDigestTheResolverFinds) {
  testing::FakeImageResolver resolver;
  resolver.answer("docker.io/library/web:1", kDigest);
  auto pinned = pinImage("web:1", &resolver, {}, true);
  ASSERT_TRUE(pinned) << pinned.error().message;
  EXPECT_EQ(pinned->image, "docker.io/library/web:1@" + kDigest);
  EXPECT_TRUE(pinned->warnings.empty());
}

TEST(ImagePinning, ADigestGivenIsKeptWithoutAsking) {
  testing::FakeImageResolver resolver;
  auto pinned = pinImage("198.18.0.101:5000/web@" + kDigest, &resolver, {}, true);
  ASSERT_TRUE(pinned);
  EXPECT_EQ(pinned->image, "198.18.0.101:5000/web@" + kDigest);
  EXPECT_TRUE(resolver.calls().empty());
}

TEST(ImagePinning, NoResolveNormalisesOnly) {
  testing::FakeImageResolver resolver;
  resolver.answer("docker.io/library/web:1", kDigest);
  auto pinned = pinImage("web:1", &resolver, {}, false);
  ASSERT_TRUE(pinned);
  EXPECT_EQ(pinned->image, "docker.io/library/web:1");
  EXPECT_TRUE(resolver.calls().empty());
}

TEST(ImagePinning, AFailureLeavesTheImageUnpinnedWithDockersWarningAndTheReason) {
  testing::FakeImageResolver resolver;
  auto pinned = pinImage("web:2", &resolver, {}, true);
  ASSERT_TRUE(pinned);
  EXPECT_EQ(pinned->image, "docker.io/library/web:2");
  ASSERT_EQ(pinned->warnings.size(), 1u);
  EXPECT_THAT(pinned->warnings[0],
              StartsWith("image web:2 could not be accessed on a registry to record its "
                         "digest. Each node will access web:2 independently, possibly leading "
                         "to different nodes running different versions of the image."));
  EXPECT_THAT(pinned->warnings[0], HasSubstr("manifest unknown"));
}

TEST(ImagePinning, ADigestThatIsNotSha256IsAWarningNotARecord) {
  testing::FakeImageResolver resolver;
  resolver.answer("docker.io/library/web:1", "md5:abc");
  auto pinned = pinImage("web:1", &resolver, {}, true);
  ASSERT_TRUE(pinned);
  EXPECT_EQ(pinned->image, "docker.io/library/web:1");
  ASSERT_EQ(pinned->warnings.size(), 1u);
  EXPECT_THAT(pinned->warnings[0], HasSubstr("md5:abc"));
}

TEST(ImagePinning, ABadReferenceIsRefusedNamingTheFlag) {
  testing::FakeImageResolver resolver;
  auto refused = pinImage("Web:1", &resolver, {}, true);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::InvalidArgument);
  EXPECT_THAT(refused.error().message, HasSubstr("--image"));
}

TEST(ImagePinning, NoImageIsAProcessTaskAndStaysEmpty) {
  testing::FakeImageResolver resolver;
  auto pinned = pinImage("", &resolver, {}, true);
  ASSERT_TRUE(pinned);
  EXPECT_EQ(pinned->image, "");
  EXPECT_TRUE(resolver.calls().empty());
}

}  // namespace
}  // namespace overmesh::manager
