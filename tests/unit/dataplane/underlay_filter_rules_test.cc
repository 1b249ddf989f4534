#include "dataplane/underlay_filter_rules.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "support/ip_helpers.h"

namespace overmesh::dataplane {
namespace {

using ::overmesh::testing::ip;

std::set<Ipv4Address> addresses(std::initializer_list<const char*> texts) {
  std::set<Ipv4Address> result;
  for (const char* text : texts) {
    result.insert(ip(text));
  }
  return result;
}

// The member set 198.18.<n / 256>.<n % 256> for n in [first, first + count).
std::set<Ipv4Address> numbered(std::uint32_t first, std::uint32_t count) {
  std::set<Ipv4Address> result;
  for (std::uint32_t n = first; n < first + count; ++n) {
    result.insert(Ipv4Address::fromValue(ip("198.18.0.0").value() + n));
  }
  return result;
}

std::size_t countOf(const std::string& text, const std::string& what) {
  std::size_t count = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) {
    ++count;
  }
  return count;
}

constexpr const char* kTableHead =
    "table inet overmesh_underlay {}\n"
    "delete table inet overmesh_underlay\n"
    "table inet overmesh_underlay {\n"
    "  set members { type ipv4_addr; }\n"
    "  counter vxlan_dropped { }\n"
    "  counter node_port_dropped { }\n"
    "  chain input { type filter hook input priority -150; policy accept; }\n"
    "}\n";

TEST(UnderlayFilterRulesTest, ReplaceScriptBuildsTheWholeTable) {
  UnderlayFilterSpec spec{{4789, 2378}, addresses({"198.18.0.2", "198.18.0.1"})};
  std::string expected =
      std::string(kTableHead) +
      "add rule inet overmesh_underlay input udp dport 4789 ip saddr != @members counter name "
      "\"vxlan_dropped\" drop\n"
      "add rule inet overmesh_underlay input meta nfproto ipv6 udp dport 4789 counter name "
      "\"vxlan_dropped\" drop\n"
      "add rule inet overmesh_underlay input tcp dport 2378 ip saddr != @members counter name "
      "\"node_port_dropped\" drop\n"
      "add rule inet overmesh_underlay input meta nfproto ipv6 tcp dport 2378 counter name "
      "\"node_port_dropped\" drop\n"
      "add element inet overmesh_underlay members { 198.18.0.1, 198.18.0.2 }\n";
  EXPECT_EQ(underlayReplaceScript(spec), expected);
}

TEST(UnderlayFilterRulesTest, ReplaceScriptUsesTheConfiguredPorts) {
  std::string script = underlayReplaceScript({{8472, 12378}, addresses({"198.18.0.1"})});
  EXPECT_NE(script.find("udp dport 8472 ip saddr != @members"), std::string::npos) << script;
  EXPECT_NE(script.find("tcp dport 12378 ip saddr != @members"), std::string::npos) << script;
  EXPECT_EQ(script.find("4789"), std::string::npos) << script;
  EXPECT_EQ(script.find("dport 2378 "), std::string::npos) << script;
}

TEST(UnderlayFilterRulesTest, ReplaceScriptWithoutMembersDropsFromEveryone) {
  std::string script = underlayReplaceScript({{4789, 2378}, {}});
  EXPECT_EQ(script.find("add element"), std::string::npos) << script;
  EXPECT_EQ(countOf(script, " drop\n"), 4u) << script;
}

TEST(UnderlayFilterRulesTest, ReplaceScriptSplitsLargeSetsIntoBoundedStatements) {
  auto members = numbered(1, 1000);
  std::string script = underlayReplaceScript({{4789, 2378}, members});
  // 1000 addresses: three statements of 256 and one of 232.
  EXPECT_EQ(countOf(script, "add element inet overmesh_underlay members { "), 4u);
  for (const auto& member : members) {
    EXPECT_NE(script.find(member.toString() + (member == *members.rbegin() ? " }" : "")),
              std::string::npos)
        << member.toString();
  }
  std::size_t longest = 0;
  for (std::size_t start = 0; start < script.size();) {
    std::size_t end = script.find('\n', start);
    longest = std::max(longest, end - start);
    start = end + 1;
  }
  EXPECT_LE(longest, 60 + kUnderlayElementsPerStatement * 17);
}

TEST(UnderlayFilterRulesTest, DiffOfEqualSetsIsEmptyAndMakesNoScript) {
  auto members = addresses({"198.18.0.1", "198.18.0.2"});
  auto changes = diffUnderlayMembers(members, members);
  EXPECT_TRUE(changes.empty());
  EXPECT_EQ(underlayMembersScript(changes), "");
  EXPECT_TRUE(diffUnderlayMembers({}, {}).empty());
}

TEST(UnderlayFilterRulesTest, DiffNamesTheAddedAndRemovedMembersInOrder) {
  auto changes = diffUnderlayMembers(addresses({"198.18.0.1", "198.18.0.2", "198.18.0.3"}),
                                     addresses({"198.18.0.4", "198.18.0.2", "198.18.0.1"}));
  EXPECT_EQ(changes.added, (std::vector<Ipv4Address>{ip("198.18.0.4")}));
  EXPECT_EQ(changes.removed, (std::vector<Ipv4Address>{ip("198.18.0.3")}));
}

TEST(UnderlayFilterRulesTest, MembersScriptAddsBeforeItDeletes) {
  UnderlayMemberChanges changes{{ip("198.18.0.4"), ip("198.18.0.5")}, {ip("198.18.0.3")}};
  EXPECT_EQ(underlayMembersScript(changes),
            "add element inet overmesh_underlay members { 198.18.0.4, 198.18.0.5 }\n"
            "delete element inet overmesh_underlay members { 198.18.0.3 }\n");
}

TEST(UnderlayFilterRulesTest, MembersScriptOfOnlyRemovalsDeletes) {
  UnderlayMemberChanges changes{{}, {ip("198.18.0.3")}};
  EXPECT_EQ(underlayMembersScript(changes),
            "delete element inet overmesh_underlay members { 198.18.0.3 }\n");
}

TEST(UnderlayFilterRulesTest, LargeDiffIsSplitIntoBoundedStatements) {
  auto changes = diffUnderlayMembers(numbered(0, 600), numbered(300, 600));
  EXPECT_EQ(changes.added.size(), 300u);
  EXPECT_EQ(changes.removed.size(), 300u);
  std::string script = underlayMembersScript(changes);
  EXPECT_EQ(countOf(script, "add element "), 2u);
  EXPECT_EQ(countOf(script, "delete element "), 2u);
  EXPECT_LT(script.rfind("add element "), script.find("delete element "));
  EXPECT_EQ(countOf(script, ", ") + countOf(script, "\n"), 600u);
}

TEST(UnderlayFilterRulesTest, ParsesTheCountersOfATableListing) {
  std::string listing = R"({"nftables": [
      {"metainfo": {"version": "1.0.6"}},
      {"table": {"family": "inet", "name": "overmesh_underlay", "handle": 3}},
      {"counter": {"family": "inet", "name": "vxlan_dropped", "table": "overmesh_underlay",
                   "handle": 2, "packets": 7, "bytes": 700}},
      {"counter": {"family": "inet", "name": "node_port_dropped", "table": "overmesh_underlay",
                   "handle": 3, "packets": 2, "bytes": 120}},
      {"set": {"family": "inet", "name": "members", "table": "overmesh_underlay",
               "type": "ipv4_addr", "elem": ["198.18.0.1"]}}]})";
  auto counters = parseUnderlayDropCounters(listing);
  ASSERT_TRUE(counters) << counters.error().message;
  EXPECT_EQ(*counters, (UnderlayDropCounters{7, 700, 2, 120}));
}

TEST(UnderlayFilterRulesTest, RefusesAListingWithoutItsCounters) {
  auto missing = parseUnderlayDropCounters(R"({"nftables": [
      {"counter": {"name": "vxlan_dropped", "packets": 1, "bytes": 2}}]})");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().kind, ErrorKind::InvalidArgument);
  EXPECT_NE(missing.error().message.find("node_port_dropped"), std::string::npos)
      << missing.error().message;

  auto negative = parseUnderlayDropCounters(R"({"nftables": [
      {"counter": {"name": "vxlan_dropped", "packets": -1, "bytes": 2}},
      {"counter": {"name": "node_port_dropped", "packets": 1, "bytes": 2}}]})");
  EXPECT_FALSE(negative);
  for (const char* text : {"", "[]", "{\"nftables\": 3}", "not json"}) {
    auto bad = parseUnderlayDropCounters(text);
    ASSERT_FALSE(bad) << text;
    EXPECT_EQ(bad.error().kind, ErrorKind::InvalidArgument) << text;
  }
}

}  // namespace
}  // namespace overmesh::dataplane
