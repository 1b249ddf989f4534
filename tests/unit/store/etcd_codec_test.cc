// etcd's JSON gateway as observed from etcd 3.4.23 (the answers below are copied from a
// real etcd's output), and what the codec does with answers that are wrong.

#include "store/etcd/etcd_codec.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/base64.h"
#include "support/scratch.h"

namespace overmesh::store::etcd {
namespace {

using nlohmann::json;
using overmesh::testing::must;

TEST(EtcdCodecTest, DecodesARangeAnswerWithZeroFieldsLeftOut) {
  // "value" and "lease" are missing: an empty value and no lease.
  std::string body = R"({"header":{"cluster_id":"151","member_id":"136","revision":"3",)"
                     R"("raft_term":"2"},"kvs":[{"key":"Yg==","create_revision":"3",)"
                     R"("mod_revision":"3","version":"1"},{"key":"Yw==","create_revision":"2",)"
                     R"("mod_revision":"3","version":"2","value":"Mg==","lease":"7587"}],)"
                     R"("count":"2"})";
  RangeReply reply = must(decodeRangeReply(body));
  EXPECT_EQ(reply.revision, 3);
  ASSERT_EQ(reply.kvs.size(), 2U);
  EXPECT_EQ(reply.kvs[0].key, "b");
  EXPECT_EQ(reply.kvs[0].value, "");
  EXPECT_EQ(reply.kvs[0].lease, 0);
  EXPECT_EQ(reply.kvs[1].value, "2");
  EXPECT_EQ(reply.kvs[1].version, 2);
  EXPECT_EQ(reply.kvs[1].lease, 7587);
  // An empty range: no "kvs" at all.
  EXPECT_TRUE(must(decodeRangeReply(R"({"header":{"revision":"1"}})")).kvs.empty());
}

TEST(EtcdCodecTest, EncodesCompareTargetsAndOperations) {
  Txn txn;
  txn.compares = {Compare::absent("k"), Compare::modRevisionIs("m", 7), Compare::valueIs("v", "x")};
  Compare version;
  version.key = "n";
  version.target = Compare::Target::Version;
  version.op = Compare::Op::Greater;
  version.number = 2;
  txn.compares.push_back(version);
  txn.success = {Operation::put("k", "1", 99), Operation::del("d"), Operation::delPrefix("p/")};
  txn.failure = {Operation::delPrefix("")};
  json request = json::parse(must(encodeTxnRequest(txn)));
  EXPECT_EQ(
      request["compare"][0],
      (json{{"key", "aw=="}, {"target", "CREATE"}, {"result", "EQUAL"}, {"create_revision", "0"}}));
  EXPECT_EQ(request["compare"][1]["target"], "MOD");
  EXPECT_EQ(request["compare"][1]["mod_revision"], "7");
  EXPECT_EQ(request["compare"][2]["value"], base64Encode("x"));
  EXPECT_EQ(request["compare"][3]["target"], "VERSION");
  EXPECT_EQ(request["compare"][3]["result"], "GREATER");
  EXPECT_EQ(request["compare"][3]["version"], "2");
  EXPECT_EQ(request["success"][0]["request_put"]["lease"], "99");
  EXPECT_EQ(request["success"][1]["request_delete_range"], (json{{"key", base64Encode("d")}}));
  EXPECT_EQ(request["success"][2]["request_delete_range"]["range_end"], base64Encode("p0"));
  EXPECT_EQ(request["failure"][0]["request_delete_range"]["key"],
            base64Encode(std::string(1, '\0')));
  EXPECT_EQ(request["failure"][0]["request_delete_range"]["range_end"],
            base64Encode(std::string(1, '\0')));

  Txn empty;
  empty.success = {Operation::put("", "x")};
  EXPECT_EQ(encodeTxnRequest(empty).error().kind, ErrorKind::InvalidArgument);
}

TEST(EtcdCodecTest, DecodesTxnAndHeaderAnswers) {
  TxnReply reply = must(decodeTxnReply(
      R"({"header":{"revision":"3"},"succeeded":true,"responses":[{"response_put":{}}]})"));
  EXPECT_TRUE(reply.succeeded);
  EXPECT_EQ(reply.revision, 3);
  // A failed compare: "succeeded" is left out.
  EXPECT_FALSE(must(decodeTxnReply(R"({"header":{"revision":"4"}})")).succeeded);
  // Numbers are accepted as well as strings.
  EXPECT_EQ(must(decodeHeaderRevision(R"({"header":{"revision":12}})")), 12);
}

TEST(EtcdCodecTest, DecodesLeaseAnswers) {
  LeaseGrantReply grant = must(
      decodeLeaseGrantReply(R"({"header":{"revision":"3"},"ID":"4111120256317743113","TTL":"1"})"));
  EXPECT_EQ(grant.id, 4111120256317743113);
  EXPECT_EQ(grant.ttlSeconds, 1);
  EXPECT_EQ(json::parse(encodeLeaseId(4111120256317743113))["ID"], "4111120256317743113");
  EXPECT_EQ(json::parse(encodeLeaseGrant(3))["TTL"], "3");
  // A keep-alive of an unknown lease: the result has no TTL.
  EXPECT_EQ(must(decodeKeepAliveReply(R"({"result":{"header":{"revision":"3"},"ID":"999"}})"
                                      "\n")),
            0);
  EXPECT_EQ(must(decodeKeepAliveReply(R"({"result":{"ID":"5","TTL":"10"}})")), 10);
  EXPECT_FALSE(decodeKeepAliveReply(R"({"error":{"grpc_code":14,"message":"no leader"}})"));
}

TEST(EtcdCodecTest, DecodesWatchMessages) {
  WatchMessage created =
      must(decodeWatchLine(R"({"result":{"header":{"revision":"4"},"created":true}})"));
  EXPECT_TRUE(created.created);
  EXPECT_EQ(created.headerRevision, 4);
  EXPECT_TRUE(created.events.empty());

  WatchMessage events = must(decodeWatchLine(
      R"({"result":{"header":{"revision":"5"},"events":[{"kv":{"key":"eA==",)"
      R"("create_revision":"5","mod_revision":"5","version":"1"}},{"type":"DELETE",)"
      R"("kv":{"key":"YQ==","mod_revision":"5"}}]}})"));
  ASSERT_EQ(events.events.size(), 2U);
  EXPECT_EQ(events.events[0].type, Event::Type::Put);
  EXPECT_EQ(events.events[0].kv.key, "x");
  EXPECT_EQ(events.events[0].kv.value, "");
  EXPECT_EQ(events.events[1].type, Event::Type::Delete);
  EXPECT_EQ(events.events[1].kv.key, "a");
  EXPECT_EQ(events.events[1].kv.modRevision, 5);

  // A start revision etcd compacted: no "revision" in the header.
  WatchMessage compacted = must(decodeWatchLine(
      R"({"result":{"header":{"raft_term":"2"},"canceled":true,"compact_revision":"3"}})"));
  EXPECT_TRUE(compacted.canceled);
  EXPECT_EQ(compacted.compactRevision, 3);

  WatchMessage error = must(decodeWatchLine(
      R"({"error":{"grpc_code":14,"http_code":503,"message":"etcdserver: no leader"}})"));
  EXPECT_TRUE(error.streamError);
  EXPECT_EQ(error.error.code, 14);
  EXPECT_EQ(error.error.message, "etcdserver: no leader");
}

TEST(EtcdCodecTest, DecodesGatewayErrors) {
  GatewayError lease = decodeGatewayError(
      R"({"error":"etcdserver: requested lease not found","message":"etcdserver: requested )"
      R"(lease not found","code":5})");
  EXPECT_EQ(lease.code, 5);
  EXPECT_EQ(lease.message, "etcdserver: requested lease not found");
  GatewayError garbage = decodeGatewayError("<html>502 Bad Gateway</html>");
  EXPECT_EQ(garbage.code, 0);
  EXPECT_NE(garbage.message.find("502"), std::string::npos);
}

// Whatever etcd (or something pretending to be it) answers, decoding returns an error and
// never throws.
TEST(EtcdCodecTest, MalformedAnswersAreErrorsNeverExceptions) {
  std::vector<std::string> bodies{
      "",
      "not json",
      "[]",
      "null",
      R"({"header":"x"})",
      R"({"header":{"revision":"12abc"}})",
      R"({"header":{"revision":"99999999999999999999"}})",
      R"({"header":{"revision":1.5}})",
      R"({"header":{"revision":true}})",
      R"({"kvs":{}})",
      R"({"kvs":[1]})",
      R"({"kvs":[{"key":"!!!"}]})",
      R"({"kvs":[{"key":5}]})",
      R"({"kvs":[],"more":true})",
      R"({"succeeded":"yes"})",
      R"({"result":{"events":[{"type":"EXPLODE","kv":{"mod_revision":"1"}}]}})",
      R"({"result":{"events":[{"kv":{"key":"YQ=="}}]}})",
      R"({"result":{"events":[7]}})",
      R"({"result":[]})",
      std::string(100000, '[') + std::string(100000, ']'),
  };
  for (const std::string& body : bodies) {
    std::string shown = body.substr(0, 60);
    EXPECT_NO_THROW({
      bool anyOk = decodeRangeReply(body).has_value() && decodeTxnReply(body).has_value() &&
                   decodeHeaderRevision(body).has_value() && decodeWatchLine(body).has_value() &&
                   decodeLeaseGrantReply(body).has_value() &&
                   decodeKeepAliveReply(body).has_value();
      EXPECT_FALSE(anyOk) << shown;
      (void)decodeGatewayError(body);
    }) << shown;
  }
}

}  // namespace
}  // namespace overmesh::store::etcd
