// The store flags of `swarm init` and `swarm join` (issue 13), checked before anything is
// written: TLS files only with etcd, all three or none; what a joining manager opens.

#include "daemon/store_flags.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support/scratch.h"

namespace overmesh::daemon {
namespace {

using overmesh::testing::must;
using ::testing::HasSubstr;

// The etcd URL parser is lane "etcd"'s (store/store_location.cc): until it is in, the
// tests that need an etcd URL to parse say so instead of failing.
bool etcdUrlsParse() { return store::parseStoreUrl("etcd://198.18.0.200:2379").has_value(); }

TEST(StoreFlags, NoStoreFlagMeansTheEmbeddedStore) {
  api::SwarmInitRequest request;
  EXPECT_FALSE(must(initStoreLocation(request)).isEtcd());
  request.store = "sqlite";
  EXPECT_FALSE(must(initStoreLocation(request)).isEtcd());
}

TEST(StoreFlags, TlsFilesWithTheEmbeddedStoreAreRefusedNamingTheFlag) {
  api::SwarmInitRequest request;
  request.storeCertFile = "/tmp/etcd.pem";
  auto refused = initStoreLocation(request);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::InvalidArgument);
  EXPECT_THAT(refused.error().message, HasSubstr("--store-cert is for an etcd store"));
  request.storeCaFile = "/tmp/ca.pem";
  EXPECT_THAT(initStoreLocation(request).error().message, HasSubstr("--store-cacert"));
}

TEST(StoreFlags, AStoreThatDoesNotParseIsRefusedNamingTheFlag) {
  api::SwarmInitRequest request;
  request.store = "consul://198.18.0.200:8500";
  auto refused = initStoreLocation(request);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::InvalidArgument);
  EXPECT_THAT(refused.error().message, HasSubstr("--store"));
}

TEST(StoreFlags, AnEtcdStoreKeepsItsTlsFiles) {
  if (!etcdUrlsParse()) {
    GTEST_SKIP() << "etcd URLs do not parse yet (lane etcd's store_location.cc)";
  }
  overmesh::testing::ScratchDir dir;
  api::SwarmInitRequest request;
  request.store = "etcd://198.18.0.200:2379";
  auto plain = must(initStoreLocation(request));
  EXPECT_TRUE(plain.isEtcd());
  EXPECT_FALSE(plain.usesTls());
  request.storeCaFile = (dir.path() / "missing-ca.pem").string();
  auto refused = initStoreLocation(request);
  ASSERT_FALSE(refused) << "a TLS file that is not there (and the other two missing)";
  EXPECT_EQ(refused.error().kind, ErrorKind::InvalidArgument);
  EXPECT_THAT(refused.error().message, HasSubstr("--store-c"));
}

TEST(StoreFlags, JoinWithoutTlsFilesIsFine) { EXPECT_TRUE(checkStoreTlsFiles({}, "swarm join")); }

TEST(StoreFlags, JoinedManagersOpenOnlyAnEtcdStore) {
  for (const char* url : {"sqlite", "", "file:///var/lib/x.db"}) {
    auto refused = joinedStoreLocation(url, {});
    ASSERT_FALSE(refused) << url;
    EXPECT_EQ(refused.error().kind, ErrorKind::Unavailable);
    EXPECT_THAT(refused.error().message, HasSubstr("not an etcd store"));
  }
}

TEST(StoreFlags, JoinedManagersUseTheirOwnTlsFiles) {
  if (!etcdUrlsParse()) {
    GTEST_SKIP() << "etcd URLs do not parse yet (lane etcd's store_location.cc)";
  }
  StoreTlsFiles files{"/etc/om/ca.pem", "/etc/om/cert.pem", "/etc/om/key.pem"};
  auto location = must(joinedStoreLocation("etcd://198.18.0.200:2379,198.18.0.201:2379", files));
  EXPECT_TRUE(location.isEtcd());
  EXPECT_EQ(location.endpoints.size(), 2u);
  EXPECT_EQ(location.caFile, files.caFile);
  EXPECT_EQ(location.certFile, files.certFile);
  EXPECT_EQ(location.keyFile, files.keyFile);
}

}  // namespace
}  // namespace overmesh::daemon
