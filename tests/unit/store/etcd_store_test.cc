// The etcd backend against real etcd members (tests/support/etcd_cluster.h; Debian's
// etcd-server, no root): the shared Store suite, then what only etcd has (several
// endpoints, members that die, history older than the local mirror).

#include "store/etcd/etcd_store.h"

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/error.h"
#include "store/open_store.h"
#include "store/store.h"
#include "store/store_location.h"
#include "support/etcd_cluster.h"
#include "support/scratch.h"
#include "support/store_suite.h"
#include "support/test_certs.h"

namespace overmesh::store {
namespace {

using namespace std::chrono_literals;
using overmesh::testing::EtcdCluster;
using overmesh::testing::EtcdClusterOptions;
using overmesh::testing::must;
using suite::putAll;
using suite::StoreSuite;
using suite::watchAll;

EtcdStoreOptions optionsFor(std::vector<std::string> endpoints) {
  EtcdStoreOptions options;
  options.endpoints = std::move(endpoints);
  options.requestTimeout = 5000ms;  // a loaded machine can stall etcd's fsync
  return options;
}

// The shared suite on a fresh one-member etcd per test; lease TTLs run in real time.
class EtcdBackend final : public suite::StoreBackend {
 public:
  std::unique_ptr<Store> openStore() override {
    return must(EtcdStore::open(optionsFor(cluster_.endpoints())));
  }
  void elapse(std::chrono::milliseconds duration) override {
    std::this_thread::sleep_for(duration);
  }

 private:
  EtcdCluster cluster_;
};

std::unique_ptr<suite::StoreBackend> makeEtcdBackend() { return std::make_unique<EtcdBackend>(); }

INSTANTIATE_TEST_SUITE_P(Etcd, StoreSuite,
                         ::testing::Values(suite::BackendParam{"Etcd", &makeEtcdBackend}),
                         suite::backendName);

// The first endpoint is a killed member (nothing listens there); the second is up.
TEST(EtcdStoreTest, AFirstEndpointThatIsDownIsSkipped) {
  EtcdCluster dead;
  EtcdCluster live;
  std::string deadEndpoint = dead.endpoint(0);
  dead.kill(0);
  auto store = must(EtcdStore::open(optionsFor({deadEndpoint, live.endpoint(0)})));
  Revision written = must(store->put("k", "v"));
  EXPECT_EQ(must(store->get("k"))->value, "v");
  std::vector<Event> events = watchAll(*store, "", written);
  ASSERT_EQ(events.size(), 1U);
  EXPECT_EQ(events[0].kv.key, "k");

  live.kill(0);
  auto failed = store->get("k");
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().kind, ErrorKind::Unavailable);
  // Every endpoint is named, with why it failed.
  EXPECT_NE(failed.error().message.find(deadEndpoint), std::string::npos) << failed.error().message;
  EXPECT_NE(failed.error().message.find(live.endpoint(0)), std::string::npos)
      << failed.error().message;
}

// A store whose watch stream cannot reach any member tells its watchers so, instead of
// answering "no change" for ever.
TEST(EtcdStoreTest, WatchAnswersUnavailableOnceTheStreamIsDown) {
  EtcdCluster cluster;
  EtcdStoreOptions options = optionsFor(cluster.endpoints());
  options.requestTimeout = 1000ms;
  auto store = must(EtcdStore::open(options));
  Revision written = must(store->put("k", "v"));
  EXPECT_EQ(must(store->watch("", written, 5s)).events.size(), 1U);
  cluster.kill(0);
  auto started = std::chrono::steady_clock::now();
  Result<WatchResult> answer = store->watch("", written + 1, 10s);
  while (answer && std::chrono::steady_clock::now() - started < 20s) {
    answer = store->watch("", answer->nextRevision, 1s);
  }
  ASSERT_FALSE(answer);
  EXPECT_EQ(answer.error().kind, ErrorKind::Unavailable);
  EXPECT_NE(answer.error().message.find(cluster.endpoint(0)), std::string::npos)
      << answer.error().message;
  EXPECT_LT(std::chrono::steady_clock::now() - started, 15s);
}

TEST(EtcdStoreTest, OpenFailsWhenNoEndpointAnswers) {
  std::string endpoint;
  {
    EtcdCluster gone;
    endpoint = gone.endpoint(0);
  }
  EtcdStoreOptions options = optionsFor({endpoint});
  options.requestTimeout = 500ms;
  auto opened = EtcdStore::open(options);
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().kind, ErrorKind::Unavailable);
  EXPECT_NE(opened.error().message.find(endpoint), std::string::npos) << opened.error().message;
}

TEST(EtcdStoreTest, OpenStoreOpensEtcdFromAStoreUrl) {
  EtcdCluster cluster;
  StoreLocation location = must(parseStoreUrl(cluster.storeUrl()));
  ManualClock clock;
  auto store = must(openStore(location, "/nonexistent/unused.db", clock));
  must(store->put("/overmesh/x", "1"));
  EXPECT_EQ(must(store->get("/overmesh/x"))->value, "1");
}

// Two stores on one etcd (two managers): each sees the other's writes, through its watch
// mirror, in order, and compare-and-swap between them lets exactly one win.
TEST(EtcdStoreTest, TwoStoresShareOneClusterAndSeeEachOthersWrites) {
  EtcdCluster cluster;
  auto first = must(EtcdStore::open(optionsFor(cluster.endpoints())));
  auto second = must(EtcdStore::open(optionsFor(cluster.endpoints())));
  Revision from = must(first->currentRevision()) + 1;
  Revision written = must(first->put("/overmesh/a", "1"));
  WatchResult seen = must(second->watch("/overmesh/", from, 5s));
  ASSERT_EQ(seen.events.size(), 1U);
  EXPECT_EQ(seen.events[0].kv.modRevision, written);

  Txn create;
  create.compares = {Compare::absent("/overmesh/leader")};
  create.success = {Operation::put("/overmesh/leader", "first")};
  EXPECT_TRUE(must(first->txn(create)).succeeded);
  create.success = {Operation::put("/overmesh/leader", "second")};
  EXPECT_FALSE(must(second->txn(create)).succeeded);
  EXPECT_EQ(must(second->get("/overmesh/leader"))->value, "first");
}

// History older than the mirror (written before this store opened) comes from etcd.
TEST(EtcdStoreTest, WatchFromBeforeTheMirrorReadsEtcdsHistory) {
  EtcdCluster cluster;
  Revision start = 0;
  {
    auto writer = must(EtcdStore::open(optionsFor(cluster.endpoints())));
    start = must(writer->put("w/1", "a"));
    must(writer->put("other", "x"));
    must(writer->put("w/2", "b"));
  }
  auto store = must(EtcdStore::open(optionsFor(cluster.endpoints())));
  std::vector<Event> events = watchAll(*store, "w/", start);
  ASSERT_EQ(events.size(), 2U);
  EXPECT_EQ(events[0].kv.key, "w/1");
  EXPECT_EQ(events[1].kv.key, "w/2");
  EXPECT_EQ(events[1].kv.modRevision, start + 2);

  must(store->compact(start + 1));
  auto old = store->watch("w/", start, 0ms);
  ASSERT_FALSE(old);
  EXPECT_EQ(old.error().kind, ErrorKind::Compacted);
}

// Another client compacting etcd is noticed by a one-shot watch (etcd names the point).
TEST(EtcdStoreTest, CompactionByAnotherClientAnswersCompacted) {
  EtcdCluster cluster;
  auto writer = must(EtcdStore::open(optionsFor(cluster.endpoints())));
  Revision start = must(writer->put("k", "1"));
  must(writer->put("k", "2"));
  must(writer->put("k", "3"));
  EtcdStoreOptions options = optionsFor(cluster.endpoints());
  auto reader = must(EtcdStore::open(options));  // its mirror starts after start + 2
  must(writer->compact(start + 2));
  auto old = reader->watch("", start, 0ms);
  ASSERT_FALSE(old);
  EXPECT_EQ(old.error().kind, ErrorKind::Compacted);
  EXPECT_NE(old.error().message.find(std::to_string(start + 2)), std::string::npos)
      << old.error().message;
}

// A small mirror drops its oldest revisions whole; older watches still get every event.
TEST(EtcdStoreTest, ASmallMirrorFallsBackToEtcdForOlderHistory) {
  EtcdCluster cluster;
  EtcdStoreOptions options = optionsFor(cluster.endpoints());
  options.mirrorEvents = 4;
  auto store = must(EtcdStore::open(options));
  Revision first = must(store->currentRevision()) + 1;
  for (int i = 0; i < 20; ++i) {
    must(store->txn(putAll({{"w/a", std::to_string(i)}, {"w/b", std::to_string(i)}})));
  }
  std::vector<Event> events = watchAll(*store, "w/", first);
  ASSERT_EQ(events.size(), 40U);
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(events[2 * i].kv.modRevision, first + i);
    EXPECT_EQ(events[2 * i].kv.value, std::to_string(i));
  }
}

// Three members: killing the one the store talks to (and whose watch stream it holds)
// loses nothing: writes go on through another member and the mirror resumes there.
TEST(EtcdStoreTest, SurvivesTheLossOfOneMemberOfThree) {
  EtcdClusterOptions options;
  options.members = 3;
  EtcdCluster cluster(options);
  auto store = must(EtcdStore::open(optionsFor(cluster.endpoints())));
  Revision first = must(store->put("w/before", "1"));
  cluster.kill(0);
  Revision after = 0;
  for (int attempt = 0; attempt < 50 && after == 0; ++attempt) {
    auto put = store->put("w/after", "2");
    if (put) {
      after = *put;
    } else {
      std::this_thread::sleep_for(200ms);  // the survivors may be electing a new leader
    }
  }
  ASSERT_GT(after, first);
  std::vector<Event> events = watchAll(*store, "w/", first);
  ASSERT_EQ(events.size(), 2U);
  EXPECT_EQ(events[0].kv.key, "w/before");
  EXPECT_EQ(events[1].kv.key, "w/after");
  WatchResult blocked = must(store->watch("w/", after + 1, 200ms));
  EXPECT_TRUE(blocked.events.empty());
  must(store->put("w/later", "3"));
  WatchResult later = must(store->watch("w/", after + 1, 10s));
  ASSERT_EQ(later.events.size(), 1U);
  EXPECT_EQ(later.events[0].kv.key, "w/later");

  // The killed member comes back on its data directory and catches up.
  cluster.restart(0);
  auto rejoined = must(EtcdStore::open(optionsFor({cluster.endpoint(0)})));
  bool caughtUp = false;
  for (int attempt = 0; attempt < 50 && !caughtUp; ++attempt) {
    auto value = rejoined->get("w/later");
    caughtUp = value && value->has_value();
    if (!caughtUp) {
      std::this_thread::sleep_for(100ms);
    }
  }
  EXPECT_TRUE(caughtUp);
}

// etcd's own view of the lease (/v3/lease/timetolive): the TTL it granted.
std::string grantedTtl(const EtcdCluster& cluster, LeaseId lease) {
  std::string answer =
      cluster.post(0, "/v3/lease/timetolive", R"({"ID":")" + std::to_string(lease) + R"("})");
  auto parsed = nlohmann::json::parse(answer, nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object() || !parsed.contains("grantedTTL")) {
    return "no grantedTTL in " + answer;
  }
  return parsed["grantedTTL"].dump();
}

TEST(EtcdStoreTest, LeaseTtlsAreRoundedUpToWholeSeconds) {
  EtcdCluster cluster;
  auto store = must(EtcdStore::open(optionsFor(cluster.endpoints())));
  EXPECT_EQ(grantedTtl(cluster, must(store->grantLease(1100ms))), R"("2")");
  EXPECT_EQ(grantedTtl(cluster, must(store->grantLease(3000ms))), R"("3")");
  // Under etcd's minimum (1.5 election timeouts = 750 ms here, rounded up: 1 s).
  EXPECT_EQ(grantedTtl(cluster, must(store->grantLease(1ms))), R"("1")");
}

// etcd with client-certificate TLS: the store speaks https with its CA, certificate and
// key, and a store without a client certificate (or trusting another CA) is refused.
TEST(EtcdStoreTest, SpeaksTlsWithClientCertificates) {
  using overmesh::testing::makeTestCa;
  using overmesh::testing::makeTestCert;
  overmesh::testing::ScratchDir dir;
  auto write = [&](const std::string& name, const std::string& pem) {
    std::string path = (dir.path() / name).string();
    std::ofstream(path) << pem;
    return path;
  };
  auto ca = makeTestCa("etcd-test-ca");
  overmesh::testing::TestCertSpec serverSpec;
  serverSpec.nodeId = "etcd";
  serverSpec.ipAddresses = {"127.0.0.1"};
  serverSpec.keyUsage = "critical,digitalSignature,keyEncipherment";
  auto server = makeTestCert(ca, serverSpec);
  overmesh::testing::TestCertSpec clientSpec;
  clientSpec.nodeId = "manager";
  auto client = makeTestCert(ca, clientSpec);
  EtcdClusterOptions options;
  options.tls.caFile = write("ca.pem", ca.certPem);
  options.tls.serverCert = write("server.pem", server.certPem);
  options.tls.serverKey = write("server-key.pem", server.keyPem);
  options.tls.clientCert = write("client.pem", client.certPem);
  options.tls.clientKey = write("client-key.pem", client.keyPem);
  EtcdCluster cluster(options);

  StoreLocation location = must(parseStoreUrl(cluster.storeUrl()));
  location.caFile = options.tls.caFile;
  location.certFile = options.tls.clientCert;
  location.keyFile = options.tls.clientKey;
  must(checkStoreTls(location));
  auto store = must(EtcdStore::open(EtcdStoreOptions::from(location)));
  Revision written = must(store->put("/overmesh/tls", "yes"));
  EXPECT_EQ(must(store->get("/overmesh/tls"))->value, "yes");
  WatchResult seen = must(store->watch("/overmesh/", written, 5s));
  ASSERT_EQ(seen.events.size(), 1U);

  auto otherCa = makeTestCa("another-ca");
  auto stranger = makeTestCert(otherCa, clientSpec);
  EtcdStoreOptions wrongCert = EtcdStoreOptions::from(location);
  wrongCert.certFile = write("stranger.pem", stranger.certPem);
  wrongCert.keyFile = write("stranger-key.pem", stranger.keyPem);
  auto refused = EtcdStore::open(wrongCert);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::Unavailable);

  EtcdStoreOptions wrongCa = EtcdStoreOptions::from(location);
  wrongCa.caFile = write("other-ca.pem", otherCa.certPem);
  auto untrusted = EtcdStore::open(wrongCa);
  ASSERT_FALSE(untrusted);
  EXPECT_EQ(untrusted.error().kind, ErrorKind::Unavailable);
}

}  // namespace
}  // namespace overmesh::store
