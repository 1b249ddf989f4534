#include "dataplane/service_lb_rules.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fmt/format.h>

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

TEST(LbRulesTest, NamesChainsFromTheVip) {
  EXPECT_EQ(lbChainName(ip("10.0.0.2")), "svc_10_0_0_2");
  EXPECT_EQ(lbChainName(ip("255.1.20.0")), "svc_255_1_20_0");
}

TEST(LbRulesTest, ReplaceScriptRecreatesTheTableWithTheVipMapAndOutputHook) {
  auto script = lbReplaceScript({{service("10.0.0.2", {"10.0.0.5", "10.0.0.6", "10.0.0.7"})}});
  EXPECT_EQ(script.find("table ip overmesh_lb {}\ndelete table ip overmesh_lb\n"), 0u) << script;
  EXPECT_THAT(script, HasSubstr("map vips { type ipv4_addr : verdict; }"));
  EXPECT_THAT(script, HasSubstr("type nat hook output priority -100; policy accept; "
                                "ip daddr vmap @vips;"));
  EXPECT_THAT(script, HasSubstr("add chain ip overmesh_lb svc_10_0_0_2\n"));
  EXPECT_THAT(script, HasSubstr("add rule ip overmesh_lb svc_10_0_0_2 dnat to numgen random "
                                "mod 3 map { 0 : 10.0.0.5, 1 : 10.0.0.6, 2 : 10.0.0.7 }\n"));
  EXPECT_THAT(script,
              HasSubstr("add element ip overmesh_lb vips { 10.0.0.2 : goto svc_10_0_0_2 }\n"));
  // Address-only DNAT, no SNAT: every port and protocol, the client's address kept.
  EXPECT_THAT(script, Not(HasSubstr("masquerade")));
  EXPECT_THAT(script, Not(HasSubstr("snat")));
  EXPECT_THAT(script, Not(HasSubstr("dport")));
}

TEST(LbRulesTest, OneBackendIsAPlainDnat) {
  auto script = lbReplaceScript({{service("10.0.0.2", {"10.0.0.5"})}});
  EXPECT_THAT(script, HasSubstr("add rule ip overmesh_lb svc_10_0_0_2 dnat to 10.0.0.5\n"));
  EXPECT_THAT(script, Not(HasSubstr("numgen")));
}

TEST(LbRulesTest, NoBackendIsRefusedAtOnce) {
  auto script = lbReplaceScript({{service("10.0.0.2", {})}});
  EXPECT_THAT(script, HasSubstr("add rule ip overmesh_lb svc_10_0_0_2 meta l4proto tcp reject "
                                "with tcp reset\nadd rule ip overmesh_lb svc_10_0_0_2 reject\n"));
  EXPECT_THAT(script, Not(HasSubstr("dnat")));
}

TEST(LbRulesTest, EmptyPlanStillHasTheTable) {
  auto script = lbReplaceScript({});
  EXPECT_THAT(script, HasSubstr("chain output"));
  EXPECT_THAT(script, Not(HasSubstr("add element")));
}

TEST(LbDiffTest, SamePlanIsNoChange) {
  SandboxLb lb{{service("10.0.0.2", {"10.0.0.5"}), service("10.0.0.3", {})}};
  EXPECT_TRUE(diffSandboxLb(lb, lb).empty());
  EXPECT_EQ(lbUpdateScript(diffSandboxLb(lb, lb)), "");
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
  EXPECT_EQ(changes.changed, std::vector<LbService>{after.services[2]});
  EXPECT_EQ(changes.added, (std::vector<LbService>{after.services[0], after.services[3]}));
}

TEST(LbDiffTest, BackendChangeRewritesOnlyThatChain) {
  SandboxLb before;
  for (int i = 0; i < 1000; ++i) {
    before.services.push_back(
        service(fmt::format("10.{}.{}.2", i / 250, i % 250), {fmt::format("10.{}.{}.5", i / 250, i % 250)}));
  }
  SandboxLb after = before;
  after.services[500].backends.push_back(ip("10.2.0.9"));
  auto script = lbUpdateScript(diffSandboxLb(before, after));
  EXPECT_EQ(script,
            "flush chain ip overmesh_lb svc_10_2_0_2\n"
            "add rule ip overmesh_lb svc_10_2_0_2 dnat to numgen random mod 2 map "
            "{ 0 : 10.2.0.5, 1 : 10.2.0.9 }\n");
}

TEST(LbDiffTest, RemovalDeletesTheElementBeforeTheChain) {
  SandboxLb before{{service("10.0.0.2", {"10.0.0.5"}), service("10.0.0.3", {"10.0.0.6"})}};
  SandboxLb after{{service("10.0.0.3", {"10.0.0.6"})}};
  EXPECT_EQ(lbUpdateScript(diffSandboxLb(before, after)),
            "delete element ip overmesh_lb vips { 10.0.0.2 }\n"
            "flush chain ip overmesh_lb svc_10_0_0_2\n"
            "delete chain ip overmesh_lb svc_10_0_0_2\n");
}

TEST(LbDiffTest, AdditionCreatesTheChainBeforeTheElement) {
  SandboxLb before{};
  SandboxLb after{{service("10.0.0.2", {"10.0.0.5"})}};
  EXPECT_EQ(lbUpdateScript(diffSandboxLb(before, after)),
            "add chain ip overmesh_lb svc_10_0_0_2\n"
            "add rule ip overmesh_lb svc_10_0_0_2 dnat to 10.0.0.5\n"
            "add element ip overmesh_lb vips { 10.0.0.2 : goto svc_10_0_0_2 }\n");
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
  EXPECT_THAT(kernel.mutations,
              ElementsAre("create namespace sb1", "lb sb1 replace (2 services)",
                          "lb sb1 remove 10.0.0.3", "lb sb1 set 10.0.0.2 -> 10.0.0.5,10.0.0.7",
                          "lb sb1 add 10.0.0.4 -> none"));
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
