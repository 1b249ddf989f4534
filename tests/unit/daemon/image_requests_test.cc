// The node's `overmesh image` requests over a fake store: references normalised before
// the store sees them, bad input refused naming the value, the store's errors passed on
// with their kind.

#include "daemon/image_requests.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support/fake_image_store.h"

namespace overmesh::daemon {
namespace {

using ::testing::HasSubstr;

TEST(ImageRequestsTest, PullNormalisesAsDocker) {
  testing::FakeImageStore store;
  auto pulled = pullImage(store, {"busybox"});
  ASSERT_TRUE(pulled) << pulled.error().message;
  EXPECT_EQ(pulled->reference, "docker.io/library/busybox:latest");
  EXPECT_EQ(store.pullsOf("docker.io/library/busybox:latest"), 1U);
}

TEST(ImageRequestsTest, PullRefusesABadReferenceAndPullsNothing) {
  testing::FakeImageStore store;
  auto refused = pullImage(store, {"Busybox"});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::InvalidArgument);
  EXPECT_THAT(refused.error().message, HasSubstr("Busybox"));
  EXPECT_TRUE(store.callsSoFar().empty());
}

TEST(ImageRequestsTest, PullPassesTheRegistrysWordsOn) {
  testing::FakeImageStore store;
  store.failPulls("198.18.0.101:5000/web:9", Error{ErrorKind::NotFound, "manifest unknown"});
  auto failed = pullImage(store, {"198.18.0.101:5000/web:9"});
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().kind, ErrorKind::NotFound);
  EXPECT_EQ(failed.error().message, "image pull 198.18.0.101:5000/web:9: manifest unknown");
}

TEST(ImageRequestsTest, LoadWantsAnAbsolutePath) {
  testing::FakeImageStore store;
  for (const std::string& path :
       std::vector<std::string>{"", "web.tar", "./web.tar", std::string("/tmp/a\0b", 8)}) {
    auto refused = loadImage(store, {path});
    ASSERT_FALSE(refused) << path;
    EXPECT_EQ(refused.error().kind, ErrorKind::InvalidArgument);
    EXPECT_THAT(refused.error().message, HasSubstr("expected an absolute path"));
  }
  EXPECT_TRUE(store.callsSoFar().empty());
  auto loaded = loadImage(store, {"/srv/images/web.tar"});  // the fake refuses every archive
  ASSERT_FALSE(loaded);
  EXPECT_EQ(store.callsSoFar(), (std::vector<std::string>{"load /srv/images/web.tar"}));
}

TEST(ImageRequestsTest, RemoveByNameOrId) {
  testing::FakeImageStore store;
  store.add("docker.io/library/nginx:latest");
  ASSERT_TRUE(removeImage(store, "nginx", false));
  EXPECT_FALSE(store.contains("docker.io/library/nginx:latest"));

  std::string id(12, 'a');
  auto byId = removeImage(store, id, true);
  EXPECT_EQ(store.callsSoFar().back(), "remove " + id + " force");
  ASSERT_FALSE(byId);  // not in the fake
  EXPECT_EQ(byId.error().kind, ErrorKind::NotFound);
}

TEST(ImageRequestsTest, RemoveRefusesABadReference) {
  testing::FakeImageStore store;
  auto refused = removeImage(store, "web:bad tag", false);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::InvalidArgument);
  EXPECT_TRUE(store.callsSoFar().empty());
}

TEST(ImageRequestsTest, ListIsSortedByName) {
  testing::FakeImageStore store;
  store.add("docker.io/library/web:1");
  store.add("198.18.0.101:5000/api:1");
  auto images = listImages(store);
  ASSERT_TRUE(images);
  ASSERT_EQ(images->size(), 2U);
  EXPECT_EQ(images->at(0).names.front(), "198.18.0.101:5000/api:1");
  EXPECT_EQ(images->at(1).names.front(), "docker.io/library/web:1");
}

}  // namespace
}  // namespace overmesh::daemon
