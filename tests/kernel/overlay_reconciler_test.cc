// The Linux overlay reconciler against a real kernel, in a namespace of its own: it
// converges, a second pass changes nothing, and removals and repairs happen.

#include "dataplane/linux/overlay_reconciler.h"

#include <unistd.h>

#include <gtest/gtest.h>

#include "dataplane/linux/netns.h"
#include "support/ip_helpers.h"
#include "support/overlay_fixtures.h"
#include "support/process.h"

namespace overmesh::dataplane::kernel {
namespace {

using ::overmesh::testing::networkPlan;
using ::overmesh::testing::remoteEndpoint;

using ::overmesh::testing::ip;

const Ipv4Address kLocal = ip("198.18.0.1");

class OverlayReconcilerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!overmesh::testing::canUseNamespaces()) {
      GTEST_SKIP() << "needs root to create network namespaces";
    }
    static int counter = 0;
    ns_ = fmt::format("omrc{}-{}", getpid(), ++counter);
    auto made = createNamespace(ns_);
    ASSERT_TRUE(made) << made.error().message;
    made_ = true;
    auto opened = Netlink::open(ns_);
    ASSERT_TRUE(opened) << opened.error().message;
    host_ = std::make_unique<Netlink>(std::move(*opened));
  }

  void TearDown() override {
    host_.reset();
    if (made_) {
      EXPECT_TRUE(deleteNamespace(ns_)) << ns_;
    }
  }

  OverlayApplyReport apply(const std::vector<NetworkPlan>& plans) {
    auto report = applyOverlay(*host_, plans, kLocal);
    EXPECT_TRUE(report.problems.empty()) << report.problems.front();
    return report;
  }

  std::string ns_;
  bool made_ = false;
  std::unique_ptr<Netlink> host_;
};

TEST_F(OverlayReconcilerTest, ConvergesAndASecondPassChangesNothing) {
  auto plan = networkPlan({remoteEndpoint("10.0.15.3", "198.18.0.2"), remoteEndpoint("10.0.15.4", "198.18.0.3")});
  auto first = apply({plan});
  EXPECT_EQ(first.devicesCreated, 2);
  EXPECT_EQ(first.entriesAdded, 4);

  auto observed = observeNetwork(*host_, plan);
  ASSERT_TRUE(observed) << observed.error().message;
  ASSERT_TRUE(observed->bridge && observed->vxlan && observed->vxlanParameters);
  EXPECT_TRUE(observed->bridge->up);
  EXPECT_TRUE(observed->vxlan->up);
  EXPECT_EQ(observed->vxlan->masterIndex, observed->bridge->index);
  EXPECT_EQ(observed->vxlan->mtu, 1450u);
  EXPECT_TRUE(diffNetwork(plan, *observed, kLocal).empty());

  auto second = apply({plan});
  EXPECT_EQ(second.mutations(), 0);
}

TEST_F(OverlayReconcilerTest, RemovesAGoneEndpointsEntriesThenTheDevices) {
  auto gone = remoteEndpoint("10.0.15.4", "198.18.0.3");
  apply({networkPlan({remoteEndpoint("10.0.15.3", "198.18.0.2"), gone})});

  auto fewer = apply({networkPlan({remoteEndpoint("10.0.15.3", "198.18.0.2")})});
  EXPECT_EQ(fewer.entriesRemoved, 2);
  EXPECT_EQ(fewer.entriesAdded, 0);
  auto fdb = host_->listFdbEntries(vxlanName(4096));
  ASSERT_TRUE(fdb);
  EXPECT_EQ(fdb->size(), 1u);

  auto none = apply({});
  EXPECT_EQ(none.devicesRemoved, 2);
  EXPECT_FALSE(host_->linkExists(bridgeName(4096)).value());
  EXPECT_FALSE(host_->linkExists(vxlanName(4096)).value());
}

TEST_F(OverlayReconcilerTest, ReplacesAVxlanDeviceWithOtherParametersAndRepairsADownBridge) {
  ASSERT_TRUE(host_->createVxlan(vxlanName(4096), 999, kLocal, 4789, 1450));
  ASSERT_TRUE(host_->createBridge(bridgeName(4096), 1450));
  auto plan = networkPlan({remoteEndpoint("10.0.15.3", "198.18.0.2")});
  auto report = apply({plan});
  EXPECT_EQ(report.devicesRemoved, 1);
  EXPECT_EQ(report.devicesCreated, 1);
  auto info = host_->vxlanInfo(vxlanName(4096));
  ASSERT_TRUE(info);
  EXPECT_EQ(info->vni, 4096u);
  EXPECT_TRUE(host_->link(bridgeName(4096))->up);
  EXPECT_EQ(apply({plan}).mutations(), 0);
}

}  // namespace
}  // namespace overmesh::dataplane::kernel
