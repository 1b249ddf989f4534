// `overmesh image ls` rows as Docker prints them: familiar names, the digest pulled for
// each name, short IDs, ages and sizes in Docker's words.

#include "cli/image_table.h"

#include <gtest/gtest.h>

namespace overmesh::cli {
namespace {

const std::string kDigest = "sha256:" + std::string(64, 'd');
const std::string kId = std::string(12, 'e') + std::string(52, 'f');

TEST(ImageTableTest, OneRowPerNameWithItsDigest) {
  api::ImageInfo image;
  image.id = kId;
  image.names = {"docker.io/library/nginx:1.25", "198.18.0.101:5000/web:1"};
  image.digests = {"docker.io/library/nginx@" + kDigest};
  image.sizeBytes = 7'800'000;
  image.createdUnix = 1000;

  auto rows = imageRows({image}, 1000 + 2 * 3600);
  ASSERT_EQ(rows.size(), 2U);
  EXPECT_EQ(rows[0].repository, "nginx");
  EXPECT_EQ(rows[0].tag, "1.25");
  EXPECT_EQ(rows[0].digest, kDigest);
  EXPECT_EQ(rows[0].id, std::string(12, 'e'));
  EXPECT_EQ(rows[0].created, "2 hours ago");
  EXPECT_EQ(rows[0].size, "7.8MB");
  EXPECT_EQ(rows[1].repository, "198.18.0.101:5000/web");
  EXPECT_EQ(rows[1].tag, "1");
  EXPECT_EQ(rows[1].digest, "<none>");  // loaded or pushed here, never pulled by digest
}

TEST(ImageTableTest, AnImageWithoutNamesShowsNone) {
  api::ImageInfo dangling;
  dangling.id = "sha256:" + kId;
  auto rows = imageRows({dangling}, 0);
  ASSERT_EQ(rows.size(), 1U);
  EXPECT_EQ(rows[0].repository, "<none>");
  EXPECT_EQ(rows[0].tag, "<none>");
  EXPECT_EQ(rows[0].digest, "<none>");
  EXPECT_EQ(rows[0].id, std::string(12, 'e'));
  EXPECT_EQ(rows[0].created, "N/A");

  api::ImageInfo pinned;
  pinned.id = kId;
  pinned.digests = {"docker.io/user/app@" + kDigest};
  rows = imageRows({pinned}, 0);
  ASSERT_EQ(rows.size(), 1U);
  EXPECT_EQ(rows[0].repository, "user/app");
  EXPECT_EQ(rows[0].tag, "<none>");
  EXPECT_EQ(rows[0].digest, kDigest);
}

TEST(ImageTableTest, AStrangeNameFromTheDaemonIsEscaped) {
  api::ImageInfo image;
  image.id = kId;
  image.names = {"Bad\nName"};
  auto rows = imageRows({image}, 0);
  ASSERT_EQ(rows.size(), 1U);
  EXPECT_EQ(rows[0].repository, "Bad\\nName");
  EXPECT_EQ(rows[0].tag, "<none>");
}

TEST(ImageTableTest, SizesInDecimalUnits) {
  EXPECT_EQ(humanSize(0), "0B");
  EXPECT_EQ(humanSize(512), "512B");
  EXPECT_EQ(humanSize(745'000), "745kB");
  EXPECT_EQ(humanSize(142'000'000), "142MB");
  EXPECT_EQ(humanSize(1'230'000'000), "1.23GB");
  EXPECT_EQ(humanSize(-5), "0B");
}

}  // namespace
}  // namespace overmesh::cli
