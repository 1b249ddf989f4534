#include "dataplane/service_lb_rules.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "support/fake_kernel.h"
#include "support/ip_helpers.h"

namespace overmesh::dataplane {
namespace {

using overmesh::testing::ip;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

LbService service(const std::string& vip, std::vector<std::string> backends) {
  LbService result{"id-" + vip, "svc-" + vip, ip(vip), {}};
  for (const auto& backend : backends) {
    result.backends.push_back(ip(backend));
  }
  return result;
}

TEST(LbRulesTest, NamesMapsByBackendCount) {
  EXPECT_EQ(lbBackendMapName(1), "backends_1");
  EXPECT_EQ(lbBackendMapName(12), "backends_12");
}

TEST(LbRulesTest, ReplaceScriptRecreatesTheTableWithOneMapPerBackendCount) {
  auto script = lbReplaceScript({{service("10.0.0.2", {"10.0.0.5", "10.0.0.6", "10.0.0.7"}),
                                  service("10.0.0.3", {"10.0.0.9"}),
                                  service("10.0.0.8", {"10.0.0.10", "10.0.0.11", "10.0.0.12"})}});
  EXPECT_EQ(script.find("table ip overmesh_lb {}\ndelete table ip overmesh_lb\n"), 0u) << script;
  EXPECT_THAT(script, HasSubstr("set refused { type ipv4_addr; }"));
  EXPECT_THAT(script, HasSubstr("chain output { type nat hook output priority -100; "
                                "policy accept; }"));
  EXPECT_THAT(script, HasSubstr("add map ip overmesh_lb backends_3 { typeof ip daddr . numgen "
                                "random mod 3 : ip daddr; }\n"
                                "add rule ip overmesh_lb output dnat to ip daddr . numgen random "
                                "mod 3 map @backends_3\n"));
  EXPECT_THAT(script, HasSubstr("add rule ip overmesh_lb output dnat to ip daddr . numgen random "
                                "mod 1 map @backends_1\n"));
  EXPECT_THAT(script, HasSubstr("add element ip overmesh_lb backends_3 { 10.0.0.2 . 0 : "
                                "10.0.0.5, 10.0.0.2 . 1 : 10.0.0.6, 10.0.0.2 . 2 : 10.0.0.7 }\n"));
  EXPECT_THAT(script,
              HasSubstr("add element ip overmesh_lb backends_1 { 10.0.0.3 . 0 : 10.0.0.9 }\n"));
  // One map and one rule per backend count, not per service.
  std::size_t maps = 0;
  for (std::size_t at = script.find("add map"); at != std::string::npos;
       at = script.find("add map", at + 1)) {
    ++maps;
  }
  EXPECT_EQ(maps, 2u);
  // Address-only DNAT, no SNAT: every port and protocol, the client's address kept.
  EXPECT_THAT(script, Not(HasSubstr("masquerade")));
  EXPECT_THAT(script, Not(HasSubstr("snat")));
  EXPECT_THAT(script, Not(HasSubstr("dport")));
}

TEST(LbRulesTest, NoBackendIsRefusedAtOnce) {
  auto script = lbReplaceScript({{service("10.0.0.2", {})}});
  EXPECT_THAT(script, HasSubstr("add rule ip overmesh_lb output ip daddr @refused meta l4proto "
                                "tcp reject with tcp reset\n"
                                "add rule ip overmesh_lb output ip daddr @refused reject\n"));
  EXPECT_THAT(script, HasSubstr("add element ip overmesh_lb refused { 10.0.0.2 }\n"));
  EXPECT_THAT(script, Not(HasSubstr("add map")));
}

TEST(LbRulesTest, EmptyPlanStillHasTheTable) {
  auto script = lbReplaceScript({});
  EXPECT_THAT(script, HasSubstr("chain output"));
  EXPECT_THAT(script, Not(HasSubstr("add element")));
}

TEST(LbDiffTest, SamePlanIsNoChange) {
  SandboxLb lb{{service("10.0.0.2", {"10.0.0.5"}), service("10.0.0.3", {})}};
  std::set<std::size_t> counts = lbBackendCounts(lb);
  EXPECT_TRUE(diffSandboxLb(lb, lb).empty());
  EXPECT_EQ(lbUpdateScript(diffSandboxLb(lb, lb), counts), "");
}

TEST(LbDiffTest, RenamedServiceWithSameBackendsIsNoChange) {
  SandboxLb before{{service("10.0.0.2", {"10.0.0.5"})}};
  SandboxLb after = before;
  after.services[0].serviceName = "other";
  EXPECT_TRUE(diffSandboxLb(before, after).empty());
}

TEST(LbDiffTest, SortsEachServiceIntoAddedRemovedOrChanged) {
  SandboxLb before{{service("10.0.0.2", {"10.0.0.5"}), service("10.0.0.3", {"10.0.0.6"}),
                    service("10.0.0.4", {"10.0.0.7"})}};
  SandboxLb after{{service("10.0.0.1", {"10.0.0.8"}), service("10.0.0.3", {"10.0.0.6"}),
                   service("10.0.0.4", {"10.0.0.7", "10.0.0.9"}), service("10.0.0.5", {})}};
  auto changes = diffSandboxLb(before, after);
  EXPECT_EQ(changes.removed, std::vector<LbService>{before.services[0]});
  EXPECT_EQ(changes.changed,
            (std::vector<LbServiceChange>{{before.services[2], after.services[2]}}));
  EXPECT_EQ(changes.added, (std::vector<LbService>{after.services[0], after.services[3]}));
}

TEST(LbDiffTest, BackendChangeAmongAThousandServicesTouchesOnlyItsElements) {
  SandboxLb before;
  for (int i = 0; i < 1000; ++i) {
    before.services.push_back(service(fmt::format("10.{}.{}.2", i / 250, i % 250),
                                      {fmt::format("10.{}.{}.5", i / 250, i % 250),
                                       fmt::format("10.{}.{}.6", i / 250, i % 250)}));
  }
  SandboxLb after = before;
  after.services[500].backends[1] = ip("10.2.0.9");
  std::set<std::size_t> counts = lbBackendCounts(before);
  EXPECT_EQ(lbUpdateScript(diffSandboxLb(before, after), counts),
            "delete element ip overmesh_lb backends_2 { 10.2.0.2 . 0, 10.2.0.2 . 1 }\n"
            "add element ip overmesh_lb backends_2 { 10.2.0.2 . 0 : 10.2.0.5, "
            "10.2.0.2 . 1 : 10.2.0.9 }\n");
}

TEST(LbDiffTest, NewBackendCountCreatesItsMapOnce) {
  SandboxLb before{{service("10.0.0.2", {"10.0.0.5"}), service("10.0.0.3", {})}};
  SandboxLb after{{service("10.0.0.2", {"10.0.0.5", "10.0.0.6"}),
                   service("10.0.0.3", {"10.0.0.7", "10.0.0.8"})}};
  std::set<std::size_t> counts = lbBackendCounts(before);
  EXPECT_EQ(
      lbUpdateScript(diffSandboxLb(before, after), counts),
      "delete element ip overmesh_lb backends_1 { 10.0.0.2 . 0 }\n"
      "delete element ip overmesh_lb refused { 10.0.0.3 }\n"
      "add map ip overmesh_lb backends_2 { typeof ip daddr . numgen random mod 2 : ip daddr; }\n"
      "add rule ip overmesh_lb output dnat to ip daddr . numgen random mod 2 map @backends_2\n"
      "add element ip overmesh_lb backends_2 { 10.0.0.2 . 0 : 10.0.0.5, 10.0.0.2 . 1 : 10.0.0.6 }\n"
      "add element ip overmesh_lb backends_2 { 10.0.0.3 . 0 : 10.0.0.7, 10.0.0.3 . 1 : 10.0.0.8 "
      "}\n");
  EXPECT_EQ(counts, (std::set<std::size_t>{1, 2}));
}

TEST(LbDiffTest, RemovalAndAdditionAreTheirElementsOnly) {
  SandboxLb before{{service("10.0.0.2", {"10.0.0.5"}), service("10.0.0.3", {"10.0.0.6"})}};
  SandboxLb after{{service("10.0.0.3", {"10.0.0.6"}), service("10.0.0.4", {})}};
  std::set<std::size_t> counts = lbBackendCounts(before);
  EXPECT_EQ(lbUpdateScript(diffSandboxLb(before, after), counts),
            "delete element ip overmesh_lb backends_1 { 10.0.0.2 . 0 }\n"
            "add element ip overmesh_lb refused { 10.0.0.4 }\n");
}

TEST(LbDiffTest, DeparturesAreTheBackendsEachVipLost) {
  SandboxLb before{{service("10.0.0.2", {"10.0.0.5", "10.0.0.6"}),
                    service("10.0.0.3", {"10.0.0.7", "10.0.0.8"}), service("10.0.0.4", {})}};
  SandboxLb after{
      {service("10.0.0.3", {"10.0.0.8", "10.0.0.9"}), service("10.0.0.4", {"10.0.0.5"})}};
  EXPECT_EQ(lbDepartures(diffSandboxLb(before, after)),
            (std::vector<LbDeparture>{{ip("10.0.0.2"), ip("10.0.0.5")},
                                      {ip("10.0.0.2"), ip("10.0.0.6")},
                                      {ip("10.0.0.3"), ip("10.0.0.7")}}));
}

// The fake kernel's bookkeeping follows the same diff, so the agent's tests see the
// kernel changes the Linux kernel would make.
TEST(FakeKernelLbTest, FirstApplyReplacesThenOnlyChangesAreRecorded) {
  overmesh::testing::FakeNodeKernel kernel;
  ASSERT_TRUE(kernel.ensureNamespace("sb1"));
  SandboxLb first{{service("10.0.0.2", {"10.0.0.5"}), service("10.0.0.3", {"10.0.0.6"})}};
  ASSERT_TRUE(kernel.applySandboxLb("sb1", first));
  ASSERT_TRUE(kernel.applySandboxLb("sb1", first));
  SandboxLb second{{service("10.0.0.2", {"10.0.0.5", "10.0.0.7"}), service("10.0.0.4", {})}};
  ASSERT_TRUE(kernel.applySandboxLb("sb1", second));
  EXPECT_THAT(
      kernel.mutations,
      ElementsAre("create namespace sb1", "lb sb1 replace (2 services)", "lb sb1 remove 10.0.0.3",
                  "lb sb1 set 10.0.0.2 -> 10.0.0.5,10.0.0.7", "lb sb1 add 10.0.0.4 -> none"));
  EXPECT_EQ(kernel.loadBalancers.at("sb1"), second);

  kernel.forgetSandboxLb("sb1");
  ASSERT_TRUE(kernel.applySandboxLb("sb1", second));
  EXPECT_EQ(kernel.mutations.back(), "lb sb1 replace (2 services)");
}

TEST(FakeKernelLbTest, RefusesAMissingNamespace) {
  overmesh::testing::FakeNodeKernel kernel;
  auto applied = kernel.applySandboxLb("nope", {});
  ASSERT_FALSE(applied);
  EXPECT_EQ(applied.error().kind, ErrorKind::NotFound);
  EXPECT_TRUE(kernel.mutations.empty());
}

}  // namespace
}  // namespace overmesh::dataplane
