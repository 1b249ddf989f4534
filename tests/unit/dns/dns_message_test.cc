// The embedded resolver's wire codec: queries built by libldns are read back, our answers
// are checked with libldns's parser, and malformed input never crashes or over-reads.

#include "dns/dns_message.h"

#include <gtest/gtest.h>
#include <ldns/ldns.h>

#include <array>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "support/ip_helpers.h"

namespace overmesh::dns {
namespace {

using overmesh::testing::ip;

struct LdnsPacketFree {
  void operator()(ldns_pkt* packet) const { ldns_pkt_free(packet); }
};
using LdnsPacket = std::unique_ptr<ldns_pkt, LdnsPacketFree>;

// A query made by libldns, in wire form. ednsSize 0: no OPT record.
std::vector<std::uint8_t> ldnsQuery(const std::string& name, ldns_rr_type type,
                                    std::uint16_t ednsSize = 0, std::uint16_t id = 4242) {
  LdnsPacket packet(
      ldns_pkt_query_new(ldns_dname_new_frm_str(name.c_str()), type, LDNS_RR_CLASS_IN, LDNS_RD));
  EXPECT_NE(packet, nullptr);
  ldns_pkt_set_id(packet.get(), id);
  if (ednsSize != 0) {
    ldns_pkt_set_edns_udp_size(packet.get(), ednsSize);
  }
  std::uint8_t* wire = nullptr;
  std::size_t size = 0;
  EXPECT_EQ(ldns_pkt2wire(&wire, packet.get(), &size), LDNS_STATUS_OK);
  std::vector<std::uint8_t> bytes(wire, wire + size);
  std::free(wire);
  return bytes;
}

LdnsPacket ldnsParse(const std::vector<std::uint8_t>& wire) {
  ldns_pkt* packet = nullptr;
  EXPECT_EQ(ldns_wire2pkt(&packet, wire.data(), wire.size()), LDNS_STATUS_OK);
  return LdnsPacket(packet);
}

// The A addresses of an answer parsed by libldns, as host-order values.
std::vector<std::uint32_t> answerAddresses(const ldns_pkt* packet) {
  std::vector<std::uint32_t> values;
  ldns_rr_list* answers = ldns_pkt_answer(packet);
  for (std::size_t i = 0; i < ldns_rr_list_rr_count(answers); ++i) {
    ldns_rr* record = ldns_rr_list_rr(answers, i);
    EXPECT_EQ(ldns_rr_get_type(record), LDNS_RR_TYPE_A);
    const ldns_rdf* data = ldns_rr_rdf(record, 0);
    const std::uint8_t* bytes = ldns_rdf_data(data);
    values.push_back((std::uint32_t{bytes[0]} << 24) | (std::uint32_t{bytes[1]} << 16) |
                     (std::uint32_t{bytes[2]} << 8) | bytes[3]);
  }
  return values;
}

class MessageTest : public ::testing::Test {
 protected:
  // The query's question points into `wire`: keep the bytes alive while it is used.
  DnsQuery parse(const std::vector<std::uint8_t>& wire) { return parseQuery(wire, name_); }
  std::array<char, 256> name_{};
};

TEST_F(MessageTest, ReadsAQueryMadeByLdns) {
  auto wire = ldnsQuery("Tasks.Web.", LDNS_RR_TYPE_A);
  auto query = parse(wire);
  ASSERT_EQ(query.verdict, QueryVerdict::Ok);
  EXPECT_EQ(query.id, 4242);
  EXPECT_TRUE(query.recursionDesired);
  EXPECT_EQ(query.name, "Tasks.Web");
  EXPECT_TRUE(query.plainName);
  EXPECT_EQ(query.type, kTypeA);
  EXPECT_EQ(query.qclass, kClassIn);
  EXPECT_FALSE(query.edns);
  EXPECT_EQ(udpAnswerLimit(query), kClassicUdpSize);
}

TEST_F(MessageTest, ReadsEdnsSizeAndCapsIt) {
  auto query = parse(ldnsQuery("web.", LDNS_RR_TYPE_A, 4096));
  ASSERT_EQ(query.verdict, QueryVerdict::Ok);
  EXPECT_TRUE(query.edns);
  EXPECT_EQ(query.udpSize, 4096);
  EXPECT_EQ(udpAnswerLimit(query), kMaxUdpSize);
  auto small = parse(ldnsQuery("web.", LDNS_RR_TYPE_A, 100));
  EXPECT_EQ(udpAnswerLimit(small), kClassicUdpSize);
}

TEST_F(MessageTest, AnswerWithAddressesParsesInLdns) {
  auto wire = ldnsQuery("web.", LDNS_RR_TYPE_A, 1232);
  auto query = parse(wire);
  std::vector<std::uint32_t> addresses = {ip("10.0.0.5").value(), ip("10.0.0.6").value()};
  std::vector<std::uint8_t> answer;
  writeAnswer(query, Rcode::NoError, addresses, 1, udpAnswerLimit(query), answer);
  auto packet = ldnsParse(answer);
  ASSERT_NE(packet, nullptr);
  EXPECT_EQ(ldns_pkt_id(packet.get()), 4242);
  EXPECT_TRUE(ldns_pkt_qr(packet.get()));
  EXPECT_TRUE(ldns_pkt_aa(packet.get()));
  EXPECT_TRUE(ldns_pkt_rd(packet.get()));
  EXPECT_TRUE(ldns_pkt_ra(packet.get()));
  EXPECT_FALSE(ldns_pkt_tc(packet.get()));
  EXPECT_EQ(ldns_pkt_get_rcode(packet.get()), LDNS_RCODE_NOERROR);
  EXPECT_EQ(ldns_pkt_qdcount(packet.get()), 1);
  EXPECT_EQ(answerAddresses(packet.get()), addresses);
  ldns_rr* first = ldns_rr_list_rr(ldns_pkt_answer(packet.get()), 0);
  EXPECT_EQ(ldns_rr_ttl(first), 1u);
  char* owner = ldns_rdf2str(ldns_rr_owner(first));
  EXPECT_STREQ(owner, "web.");
  std::free(owner);
  EXPECT_TRUE(ldns_pkt_edns(packet.get()));
  EXPECT_EQ(ldns_pkt_edns_udp_size(packet.get()), kMaxUdpSize);
}

TEST_F(MessageTest, QuestionIsEchoedWithItsCase) {
  auto wire = ldnsQuery("WeB.FrOnT.", LDNS_RR_TYPE_AAAA);
  auto query = parse(wire);
  std::vector<std::uint8_t> answer;
  writeAnswer(query, Rcode::NoError, {}, 1, kClassicUdpSize, answer);
  auto packet = ldnsParse(answer);
  ldns_rr* question = ldns_rr_list_rr(ldns_pkt_question(packet.get()), 0);
  char* owner = ldns_rdf2str(ldns_rr_owner(question));
  EXPECT_STREQ(owner, "WeB.FrOnT.");
  std::free(owner);
  EXPECT_EQ(ldns_rr_get_type(question), LDNS_RR_TYPE_AAAA);
  EXPECT_EQ(ldns_pkt_ancount(packet.get()), 0);
  EXPECT_EQ(ldns_pkt_get_rcode(packet.get()), LDNS_RCODE_NOERROR);
}

TEST_F(MessageTest, TooManyAddressesForUdpSetsTruncation) {
  auto wire = ldnsQuery("tasks.web.", LDNS_RR_TYPE_A);
  auto query = parse(wire);
  std::vector<std::uint32_t> many(40);
  for (std::uint32_t i = 0; i < many.size(); ++i) {
    many[i] = ip("10.0.0.0").value() + i + 1;
  }
  std::vector<std::uint8_t> answer;
  // 12 + 15 (question) + 40 * 16 = 667 > 512.
  std::size_t size = writeAnswer(query, Rcode::NoError, many, 1, udpAnswerLimit(query), answer);
  EXPECT_LE(size, kClassicUdpSize);
  auto truncated = ldnsParse(answer);
  EXPECT_TRUE(ldns_pkt_tc(truncated.get()));
  EXPECT_EQ(ldns_pkt_ancount(truncated.get()), 0);
  // Over TCP the same answer fits.
  writeAnswer(query, Rcode::NoError, many, 1, kMaxTcpSize, answer);
  auto whole = ldnsParse(answer);
  EXPECT_FALSE(ldns_pkt_tc(whole.get()));
  EXPECT_EQ(answerAddresses(whole.get()), many);
  // With EDNS 1232 it fits over UDP too.
  auto ednsWire = ldnsQuery("tasks.web.", LDNS_RR_TYPE_A, 4096);
  auto edns = parse(ednsWire);
  writeAnswer(edns, Rcode::NoError, many, 1, udpAnswerLimit(edns), answer);
  EXPECT_FALSE(ldns_pkt_tc(ldnsParse(answer).get()));
}

TEST_F(MessageTest, ErrorAnswersEchoTheQuestion) {
  auto wire = ldnsQuery("nosuch.", LDNS_RR_TYPE_A);
  auto query = parse(wire);
  std::vector<std::uint8_t> answer;
  writeError(query, Rcode::NxDomain, answer);
  auto packet = ldnsParse(answer);
  EXPECT_EQ(ldns_pkt_get_rcode(packet.get()), LDNS_RCODE_NXDOMAIN);
  EXPECT_EQ(ldns_pkt_qdcount(packet.get()), 1);
  writeError(query, Rcode::ServFail, answer);
  EXPECT_EQ(ldns_pkt_get_rcode(ldnsParse(answer).get()), LDNS_RCODE_SERVFAIL);
}

TEST_F(MessageTest, ShortMessagesAndResponsesAreDropped) {
  EXPECT_EQ(parse({}).verdict, QueryVerdict::Drop);
  EXPECT_EQ(parse(std::vector<std::uint8_t>(11, 0)).verdict, QueryVerdict::Drop);
  auto wire = ldnsQuery("web.", LDNS_RR_TYPE_A);
  wire[2] |= 0x80;  // QR: a response, perhaps reflected at us
  EXPECT_EQ(parse(wire).verdict, QueryVerdict::Drop);
}

TEST_F(MessageTest, OtherOpcodesAreNotImplemented) {
  auto wire = ldnsQuery("web.", LDNS_RR_TYPE_A);
  wire[2] = static_cast<std::uint8_t>((wire[2] & 0x87) | (5 << 3));  // UPDATE
  auto query = parse(wire);
  EXPECT_EQ(query.verdict, QueryVerdict::NotImp);
  std::vector<std::uint8_t> answer;
  writeError(query, Rcode::NotImp, answer);
  auto packet = ldnsParse(answer);
  EXPECT_EQ(ldns_pkt_get_rcode(packet.get()), LDNS_RCODE_NOTIMPL);
  EXPECT_EQ(ldns_pkt_get_opcode(packet.get()), LDNS_PACKET_UPDATE);
}

TEST_F(MessageTest, MalformedQuestionsAreFormErr) {
  auto good = ldnsQuery("web.", LDNS_RR_TYPE_A);
  auto truncatedName = std::vector<std::uint8_t>(good.begin(), good.begin() + 14);
  EXPECT_EQ(parse(truncatedName).verdict, QueryVerdict::FormErr);
  auto noType = std::vector<std::uint8_t>(good.begin(), good.end() - 3);
  EXPECT_EQ(parse(noType).verdict, QueryVerdict::FormErr);
  auto twoQuestions = good;
  twoQuestions[5] = 2;
  EXPECT_EQ(parse(twoQuestions).verdict, QueryVerdict::FormErr);
  auto pointer = good;
  pointer[12] = 0xc0;  // a compression pointer in the question
  pointer[13] = 12;
  EXPECT_EQ(parse(pointer).verdict, QueryVerdict::FormErr);
  auto missingAdditional = good;
  missingAdditional[11] = 1;  // ARCOUNT 1, nothing there
  EXPECT_EQ(parse(missingAdditional).verdict, QueryVerdict::FormErr);

  // A name longer than 255 bytes on the wire.
  std::vector<std::uint8_t> longName(good.begin(), good.begin() + 12);
  for (int i = 0; i < 5; ++i) {
    longName.push_back(60);
    longName.insert(longName.end(), 60, 'a');
  }
  longName.insert(longName.end(), {0, 0, 1, 0, 1});
  EXPECT_EQ(parse(longName).verdict, QueryVerdict::FormErr);

  std::vector<std::uint8_t> answer;
  auto query = parse(twoQuestions);
  writeError(query, Rcode::FormErr, answer);
  auto packet = ldnsParse(answer);
  EXPECT_EQ(ldns_pkt_get_rcode(packet.get()), LDNS_RCODE_FORMERR);
  EXPECT_EQ(ldns_pkt_qdcount(packet.get()), 0);
  EXPECT_EQ(ldns_pkt_id(packet.get()), 4242);
}

TEST_F(MessageTest, TwoOptRecordsAreFormErr) {
  auto wire = ldnsQuery("web.", LDNS_RR_TYPE_A, 1232);
  const std::vector<std::uint8_t> opt(wire.end() - 11, wire.end());
  wire.insert(wire.end(), opt.begin(), opt.end());
  wire[11] = 2;
  EXPECT_EQ(parse(wire).verdict, QueryVerdict::FormErr);
}

TEST_F(MessageTest, OddBytesInLabelsAreNotPlain) {
  auto wire = ldnsQuery("web.", LDNS_RR_TYPE_A);
  wire[14] = '.';  // "w.b" as one label
  auto query = parse(wire);
  ASSERT_EQ(query.verdict, QueryVerdict::Ok);
  EXPECT_FALSE(query.plainName);
  wire[14] = 0xff;
  EXPECT_FALSE(parse(wire).plainName);
}

TEST_F(MessageTest, RootNameParses) {
  auto query = parse(ldnsQuery(".", LDNS_RR_TYPE_A));
  ASSERT_EQ(query.verdict, QueryVerdict::Ok);
  EXPECT_EQ(query.name, "");
}

TEST_F(MessageTest, IdCanBeRewritten) {
  auto wire = ldnsQuery("example.com.", LDNS_RR_TYPE_A);
  EXPECT_EQ(messageId(wire), 4242);
  setMessageId(wire, 0xbeef);
  EXPECT_EQ(messageId(wire), 0xbeef);
  EXPECT_FALSE(isResponse(wire));
  std::vector<std::uint8_t> tiny = {1};
  EXPECT_EQ(messageId(tiny), 0);
  setMessageId(tiny, 7);  // too short: left alone
  EXPECT_EQ(tiny[0], 1);
}

// Random mutations of a valid query: whatever the parser says, it must not crash or read
// out of bounds (run under the asan preset to make the latter loud), and every answer it
// leads to must be a message libldns can read.
TEST_F(MessageTest, MutatedQueriesNeverCrash) {
  auto seed = ldnsQuery("tasks.web.front.", LDNS_RR_TYPE_A, 1232);
  std::mt19937 random(7);
  std::vector<std::uint8_t> answer;
  for (int round = 0; round < 20000; ++round) {
    auto wire = seed;
    int edits = 1 + static_cast<int>(random() % 4);
    for (int e = 0; e < edits; ++e) {
      switch (random() % 3) {
        case 0:
          wire[random() % wire.size()] = static_cast<std::uint8_t>(random());
          break;
        case 1:
          wire.resize(random() % (wire.size() + 1));
          break;
        default:
          wire.push_back(static_cast<std::uint8_t>(random()));
          break;
      }
      if (wire.empty()) {
        break;
      }
    }
    auto query = parse(wire);
    if (query.verdict == QueryVerdict::Ok) {
      std::vector<std::uint32_t> one = {1};
      writeAnswer(query, Rcode::NoError, one, 1, udpAnswerLimit(query), answer);
      ldns_pkt* packet = nullptr;
      ASSERT_EQ(ldns_wire2pkt(&packet, answer.data(), answer.size()), LDNS_STATUS_OK) << round;
      ldns_pkt_free(packet);
    } else if (query.verdict != QueryVerdict::Drop) {
      writeError(query, Rcode::FormErr, answer);
      EXPECT_GE(answer.size(), kHeaderSize);
    }
  }
}

}  // namespace
}  // namespace overmesh::dns
