#include "store/store_location.h"

#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "support/scratch.h"

namespace overmesh::store {
namespace {

using overmesh::testing::must;

TEST(StoreLocationTest, SqliteIsTheDefault) {
  for (std::string text : {"", "sqlite"}) {
    StoreLocation location = must(parseStoreUrl(text));
    EXPECT_FALSE(location.isEtcd());
    EXPECT_EQ(location.url(), "sqlite");
  }
}

TEST(StoreLocationTest, ParsesEtcdEndpointsInOrder) {
  StoreLocation location = must(parseStoreUrl("etcd://198.18.0.5:2379,etcd-2.lab:12379"));
  EXPECT_TRUE(location.isEtcd());
  EXPECT_EQ(location.endpoints, (std::vector<std::string>{"198.18.0.5:2379", "etcd-2.lab:12379"}));
  EXPECT_EQ(location.url(), "etcd://198.18.0.5:2379,etcd-2.lab:12379");
  EXPECT_FALSE(location.usesTls());
  EXPECT_EQ(must(parseStoreUrl(location.url())).endpoints, location.endpoints);
}

TEST(StoreLocationTest, RefusesMalformedUrlsNamingTheFlagTheValueAndTheValidForms) {
  struct Case {
    std::string text;
    std::string says;
  };
  std::vector<Case> cases{
      {"mysql://x:1", "unknown store"},
      {"etcd://", "no etcd endpoint"},
      {"etcd://10.0.0.1", "no port"},
      {"etcd://10.0.0.1:0", "1 to 65535"},
      {"etcd://10.0.0.1:65536", "1 to 65535"},
      {"etcd://10.0.0.1:23x", "1 to 65535"},
      {"etcd://10.0.0.1:", "1 to 65535"},
      {"etcd://:2379", "IPv4 address or a DNS name"},
      {"etcd://a b:2379", "IPv4 address or a DNS name"},
      {"etcd://10.0.0.1:2379,,10.0.0.2:2379", "empty endpoint"},
      {"etcd://10.0.0.1:2379,", "empty endpoint"},
      {"etcd://10.0.0.1:2379,10.0.0.1:2379", "given twice"},
      {"etcd://10.0.0.1:2379,10.0.0.1:02379", "given twice"},
  };
  for (const auto& testCase : cases) {
    auto parsed = parseStoreUrl(testCase.text);
    ASSERT_FALSE(parsed) << testCase.text;
    EXPECT_EQ(parsed.error().kind, ErrorKind::InvalidArgument);
    const std::string& message = parsed.error().message;
    EXPECT_NE(message.find("--store"), std::string::npos) << message;
    EXPECT_NE(message.find(testCase.says), std::string::npos) << message;
    EXPECT_NE(message.find("etcd://HOST:PORT"), std::string::npos) << message;
  }
}

TEST(StoreLocationTest, AtMostSixteenEndpoints) {
  std::string text = "etcd://";
  for (int i = 1; i <= 16; ++i) {
    text += (i > 1 ? "," : "") + std::string("10.0.0.") + std::to_string(i) + ":2379";
  }
  EXPECT_EQ(must(parseStoreUrl(text)).endpoints.size(), 16U);
  auto tooMany = parseStoreUrl(text + ",10.0.0.99:2379");
  ASSERT_FALSE(tooMany);
  EXPECT_NE(tooMany.error().message.find("more than 16"), std::string::npos);
}

TEST(StoreLocationTest, EchoesAtMost200BytesOfAHugeValue) {
  std::string huge = "etcd://" + std::string(100000, 'a');
  auto parsed = parseStoreUrl(huge);
  ASSERT_FALSE(parsed);
  EXPECT_LT(parsed.error().message.size(), 1000U);
  EXPECT_NE(parsed.error().message.find("100007 bytes"), std::string::npos)
      << parsed.error().message;
}

TEST(StoreLocationTest, TlsFilesAreAllThreeOrNoneAndReadable) {
  overmesh::testing::ScratchDir dir;
  auto file = [&](const std::string& name) {
    std::string path = (dir.path() / name).string();
    std::ofstream(path) << "-----BEGIN CERTIFICATE-----\n";
    return path;
  };
  StoreLocation location = must(parseStoreUrl("etcd://127.0.0.1:2379"));
  must(checkStoreTls(location));  // none: plain HTTP

  location.caFile = file("ca.pem");
  auto partial = checkStoreTls(location);
  ASSERT_FALSE(partial);
  EXPECT_NE(partial.error().message.find("--store-cert is missing"), std::string::npos)
      << partial.error().message;

  location.certFile = file("cert.pem");
  location.keyFile = (dir.path() / "missing.pem").string();
  auto missing = checkStoreTls(location);
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("--store-key"), std::string::npos)
      << missing.error().message;
  EXPECT_NE(missing.error().message.find("missing.pem"), std::string::npos);

  location.keyFile = dir.path().string();
  auto directory = checkStoreTls(location);
  ASSERT_FALSE(directory);
  EXPECT_NE(directory.error().message.find("not a regular file"), std::string::npos);

  location.keyFile = file("key.pem");
  must(checkStoreTls(location));
  EXPECT_TRUE(location.usesTls());
  EXPECT_EQ(location.url(), "etcd://127.0.0.1:2379");  // no paths in the URL

  StoreLocation sqlite;
  sqlite.caFile = location.caFile;
  sqlite.certFile = location.certFile;
  sqlite.keyFile = location.keyFile;
  auto notEtcd = checkStoreTls(sqlite);
  ASSERT_FALSE(notEtcd);
  EXPECT_NE(notEtcd.error().message.find("etcd"), std::string::npos);
}

}  // namespace
}  // namespace overmesh::store
