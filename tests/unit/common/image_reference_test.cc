#include "common/image_reference.h"

#include <gtest/gtest.h>

namespace overmesh {
namespace {

const std::string kDigest = "sha256:" + std::string(64, 'a');

TEST(ImageReferenceTest, ShortNamesResolveAsDockerDoes) {
  auto nginx = parseImageReference("nginx");
  ASSERT_TRUE(nginx) << nginx.error().message;
  EXPECT_EQ(nginx->toString(), "docker.io/library/nginx:latest");
  EXPECT_EQ(nginx->familiar(), "nginx:latest");
  auto user = parseImageReference("user/app:1.0");
  ASSERT_TRUE(user);
  EXPECT_EQ(user->toString(), "docker.io/user/app:1.0");
  EXPECT_EQ(user->familiar(), "user/app:1.0");
}

TEST(ImageReferenceTest, RegistryWithPortIsADomainNotATag) {
  auto local = parseImageReference("198.18.0.101:5000/web:2");
  ASSERT_TRUE(local) << local.error().message;
  EXPECT_EQ(local->domain, "198.18.0.101:5000");
  EXPECT_EQ(local->path, "web");
  EXPECT_EQ(local->tag, "2");
  auto untagged = parseImageReference("198.18.0.101:5000/web");
  ASSERT_TRUE(untagged);
  EXPECT_EQ(untagged->tag, "latest");
  EXPECT_EQ(parseImageReference("localhost/bb")->domain, "localhost");
}

TEST(ImageReferenceTest, DigestPinsAndPullsWithoutTheTag) {
  auto pinned = parseImageReference("nginx:1.25@" + kDigest);
  ASSERT_TRUE(pinned) << pinned.error().message;
  EXPECT_EQ(pinned->toString(), "docker.io/library/nginx:1.25@" + kDigest);
  EXPECT_EQ(pinned->pullReference(), "docker.io/library/nginx@" + kDigest);
  auto byDigest = parseImageReference("nginx@" + kDigest);
  ASSERT_TRUE(byDigest);
  EXPECT_EQ(byDigest->tag, "");
  EXPECT_EQ(byDigest->toString(), "docker.io/library/nginx@" + kDigest);
  auto tagged = parseImageReference("web:1");
  EXPECT_EQ(tagged->withDigest(kDigest).toString(), "docker.io/library/web:1@" + kDigest);
  EXPECT_EQ(tagged->pullReference(), "docker.io/library/web:1");
}

TEST(ImageReferenceTest, BadReferencesSayWhatIsWrong) {
  auto upper = parseImageReference("Nginx");
  ASSERT_FALSE(upper);
  EXPECT_EQ(upper.error().kind, ErrorKind::InvalidArgument);
  EXPECT_NE(upper.error().message.find("must be lowercase"), std::string::npos);
  EXPECT_NE(upper.error().message.find("\"Nginx\""), std::string::npos);
  EXPECT_FALSE(parseImageReference(""));
  EXPECT_FALSE(parseImageReference("web:"));
  EXPECT_FALSE(parseImageReference("web:-bad"));
  EXPECT_FALSE(parseImageReference("web@sha256:abc"));
  EXPECT_FALSE(parseImageReference("web@md5:" + std::string(64, 'a')));
  EXPECT_FALSE(parseImageReference("a//b"));
  EXPECT_FALSE(parseImageReference("-web"));
  EXPECT_FALSE(parseImageReference("web..x"));
  EXPECT_FALSE(parseImageReference("reg:99999x/web"));
  EXPECT_FALSE(parseImageReference(std::string(300, 'a')));
  EXPECT_TRUE(parseImageReference("a__b-c--d/f_g.h"));
}

TEST(ImageReferenceTest, ImageIdPrefixesAreTwelveToSixtyFourLowercaseHexDigits) {
  EXPECT_TRUE(isImageIdPrefix("0123456789ab"));
  EXPECT_TRUE(isImageIdPrefix(std::string(64, 'f')));
  EXPECT_FALSE(isImageIdPrefix("0123456789a"));
  EXPECT_FALSE(isImageIdPrefix(std::string(65, 'f')));
  EXPECT_FALSE(isImageIdPrefix("0123456789AB"));
  EXPECT_FALSE(isImageIdPrefix("web:1"));
}

}  // namespace
}  // namespace overmesh
