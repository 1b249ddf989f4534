#include "dataplane/mesh_rules.h"

#include <gtest/gtest.h>

#include "support/ip_helpers.h"

namespace overmesh::dataplane {
namespace {

using ::overmesh::testing::ip;

MeshPort port(std::string protocol, std::uint16_t published, std::vector<std::string> backends,
              std::uint16_t target = 80) {
  MeshPort result{std::move(protocol), published, "web", {}};
  for (const auto& address : backends) {
    result.backends.push_back({ip(address), target});
  }
  return result;
}

TEST(MeshRulesTest, ReplaceScriptBuildsTheWholeTable) {
  NodeMesh mesh{{port("tcp", 30080, {"10.0.0.5", "10.0.0.6"}), port("udp", 30053, {})}, "ombr4100"};
  std::string expected =
      "table ip overmesh_mesh {}\n"
      "delete table ip overmesh_mesh\n"
      "table ip overmesh_mesh {\n"
      "  set refused { typeof meta l4proto . th dport; }\n"
      "  chain prerouting { type nat hook prerouting priority dstnat; policy accept; }\n"
      "  chain output { type nat hook output priority -100; policy accept; }\n"
      "  chain publish { }\n"
      "  chain input { type filter hook input priority filter; policy accept; }\n"
      "  chain forward { type filter hook forward priority filter; policy accept; }\n"
      "}\n"
      "add rule ip overmesh_mesh prerouting iifname \"ombr4100\" return\n"
      "add rule ip overmesh_mesh prerouting fib daddr type local jump publish\n"
      "add rule ip overmesh_mesh output ip daddr 127.0.0.0/8 return\n"
      "add rule ip overmesh_mesh output fib daddr type local jump publish\n"
      "add rule ip overmesh_mesh input iifname \"ombr4100\" ct state new drop\n"
      "add rule ip overmesh_mesh forward iifname \"ombr4100\" oifname != \"ombr4100\" ct state "
      "new drop\n"
      "add rule ip overmesh_mesh input ip daddr != 127.0.0.0/8 ct state new meta l4proto . th "
      "dport @refused meta l4proto tcp reject with tcp reset\n"
      "add rule ip overmesh_mesh input ip daddr != 127.0.0.0/8 ct state new meta l4proto . th "
      "dport @refused reject\n"
      "add map ip overmesh_mesh backends_2 { typeof meta l4proto . th dport . numgen random "
      "mod 2 : ip daddr . th dport; }\n"
      "add rule ip overmesh_mesh publish dnat to meta l4proto . th dport . numgen random mod 2 "
      "map @backends_2\n"
      "add element ip overmesh_mesh backends_2 { tcp . 30080 . 0 : 10.0.0.5 . 80, "
      "tcp . 30080 . 1 : 10.0.0.6 . 80 }\n"
      "add element ip overmesh_mesh refused { udp . 30053 }\n";
  EXPECT_EQ(meshReplaceScript(mesh), expected);
}

TEST(MeshRulesTest, WithoutAnIngressBridgeNothingIsFilteredByInterface) {
  std::string script = meshReplaceScript({{port("tcp", 8080, {"172.18.0.2"})}, ""});
  EXPECT_EQ(script.find("iifname"), std::string::npos) << script;
  EXPECT_NE(script.find("backends_1"), std::string::npos) << script;
}

TEST(MeshRulesTest, DiffFindsAddedRemovedAndChangedPortsByProtocolAndNumber) {
  NodeMesh before{{port("tcp", 30080, {"10.0.0.5"}), port("tcp", 30081, {"10.0.0.5"}),
                   port("udp", 30080, {"10.0.0.5"})},
                  "ombr4100"};
  NodeMesh after{{port("tcp", 30080, {"10.0.0.5", "10.0.0.6"}), port("tcp", 30082, {}),
                  port("udp", 30080, {"10.0.0.5"})},
                 "ombr4100"};
  after.ports[2].serviceName = "renamed";  // not part of the rules
  auto changes = diffNodeMesh(before, after);
  EXPECT_FALSE(changes.rulesChanged);
  EXPECT_EQ(changes.removed, (std::vector<MeshPort>{before.ports[1]}));
  EXPECT_EQ(changes.added, (std::vector<MeshPort>{after.ports[1]}));
  EXPECT_EQ(changes.changed, (std::vector<MeshPortChange>{{before.ports[0], after.ports[0]}}));
  EXPECT_TRUE(diffNodeMesh(after, after).empty());
}

TEST(MeshRulesTest, ANewIngressBridgeChangesTheRules) {
  NodeMesh before{{port("tcp", 30080, {"10.0.0.5"})}, ""};
  NodeMesh after = before;
  after.ingressBridge = "ombr4100";
  EXPECT_TRUE(diffNodeMesh(before, after).rulesChanged);
}

TEST(MeshRulesTest, UpdateScriptTouchesOnlyTheChangedPortsElements) {
  NodeMesh before{{port("tcp", 30080, {"10.0.0.5"}), port("tcp", 30081, {"10.0.0.5"})}, ""};
  NodeMesh after{{port("tcp", 30080, {"10.0.0.5", "10.0.0.6"}), port("udp", 30090, {})}, ""};
  auto counts = meshBackendCounts(before);
  EXPECT_EQ(counts, (std::set<std::size_t>{1}));
  std::string script = meshUpdateScript(diffNodeMesh(before, after), counts);
  std::string expected =
      "delete element ip overmesh_mesh backends_1 { tcp . 30081 . 0 }\n"
      "delete element ip overmesh_mesh backends_1 { tcp . 30080 . 0 }\n"
      "add map ip overmesh_mesh backends_2 { typeof meta l4proto . th dport . numgen random "
      "mod 2 : ip daddr . th dport; }\n"
      "add rule ip overmesh_mesh publish dnat to meta l4proto . th dport . numgen random mod 2 "
      "map @backends_2\n"
      "add element ip overmesh_mesh backends_2 { tcp . 30080 . 0 : 10.0.0.5 . 80, "
      "tcp . 30080 . 1 : 10.0.0.6 . 80 }\n"
      "add element ip overmesh_mesh refused { udp . 30090 }\n";
  EXPECT_EQ(script, expected);
  EXPECT_EQ(counts, (std::set<std::size_t>{1, 2}));
  EXPECT_TRUE(meshUpdateScript(diffNodeMesh(after, after), counts).empty());
}

TEST(MeshRulesDeathTest, AnUnquotableBridgeNameIsACallerBug) {
  NodeMesh mesh{{port("tcp", 30080, {"10.0.0.5"})}, "br\" accept"};
  EXPECT_DEATH(meshReplaceScript(mesh), "not a valid bridge name");
}

}  // namespace
}  // namespace overmesh::dataplane
