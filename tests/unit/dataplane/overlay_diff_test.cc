#include "dataplane/overlay_diff.h"

#include <gtest/gtest.h>

#include "support/overlay_fixtures.h"
namespace overmesh::dataplane {
namespace {

using ::overmesh::testing::ip;
using ::overmesh::testing::networkPlan;
using ::overmesh::testing::remoteEndpoint;

using Action = LinkChange::Action;

const Ipv4Address kLocal = ip("198.18.0.1");

// The kernel as a previous pass left it for `plan`: devices right, entries exactly the
// plan's remotes.
ObservedNetwork convergedFor(const NetworkPlan& plan) {
  ObservedNetwork observed;
  observed.bridge = kernel::LinkInfo{plan.bridge, 7, "bridge", plan.mtu, true, 0, {}};
  observed.vxlan = kernel::LinkInfo{plan.vxlan, 8, "vxlan", plan.mtu, true, 7, {}};
  observed.vxlanParameters = kernel::VxlanInfo{plan.vni, kLocal, false, true, kVxlanPort, plan.mtu};
  for (const auto& endpoint : plan.remotes) {
    observed.fdb.push_back({endpoint.mac, endpoint.vtep});
    observed.neighbours.push_back({endpoint.address, endpoint.mac, true});
    observed.learned.push_back(endpoint.mac);
  }
  return observed;
}

TEST(OverlayDiffTest, AFreshNodeCreatesBothDevicesAndEveryEntry) {
  auto plan = networkPlan({remoteEndpoint("10.0.15.3", "198.18.0.2"), remoteEndpoint("10.0.15.4", "198.18.0.3")});
  auto changes = diffNetwork(plan, ObservedNetwork{}, kLocal);
  std::vector<LinkChange> expected = {
      {Action::CreateBridge, "ombr4096"}, {Action::SetUp, "ombr4096"},
      {Action::CreateVxlan, "omvx4096"},  {Action::SetMaster, "omvx4096"},
      {Action::SetUp, "omvx4096"}};
  EXPECT_EQ(changes.links, expected);
  EXPECT_EQ(changes.peers.fdbToAdd.size(), 2u);
  EXPECT_EQ(changes.peers.neighboursToAdd.size(), 2u);
  EXPECT_EQ(changes.peers.removals(), 0u);
}

TEST(OverlayDiffTest, AConvergedNetworkNeedsNoChange) {
  auto plan = networkPlan({remoteEndpoint("10.0.15.3", "198.18.0.2"), remoteEndpoint("10.0.15.4", "198.18.0.3")});
  auto changes = diffNetwork(plan, convergedFor(plan), kLocal);
  EXPECT_TRUE(changes.empty());
}

TEST(OverlayDiffTest, ANewRemoteEndpointAddsOnlyItsEntries) {
  auto before = networkPlan({remoteEndpoint("10.0.15.3", "198.18.0.2")});
  auto after = networkPlan({remoteEndpoint("10.0.15.3", "198.18.0.2"), remoteEndpoint("10.0.15.9", "198.18.0.3")});
  auto changes = diffNetwork(after, convergedFor(before), kLocal);
  EXPECT_TRUE(changes.links.empty());
  EXPECT_EQ(changes.peers.removals(), 0u);
  auto added = remoteEndpoint("10.0.15.9", "198.18.0.3");
  EXPECT_EQ(changes.peers.fdbToAdd, (std::vector<kernel::FdbEntry>{{added.mac, added.vtep}}));
  EXPECT_EQ(changes.peers.neighboursToAdd,
            (std::vector<kernel::NeighbourEntry>{{added.address, added.mac, true}}));
}

TEST(OverlayDiffTest, ARemovedRemoteEndpointLosesItsEntries) {
  auto gone = remoteEndpoint("10.0.15.9", "198.18.0.3");
  auto before = networkPlan({remoteEndpoint("10.0.15.3", "198.18.0.2"), gone});
  auto after = networkPlan({remoteEndpoint("10.0.15.3", "198.18.0.2")});
  auto changes = diffNetwork(after, convergedFor(before), kLocal);
  EXPECT_TRUE(changes.links.empty());
  EXPECT_EQ(changes.peers.additions(), 0u);
  EXPECT_EQ(changes.peers.fdbToRemove, (std::vector<kernel::FdbEntry>{{gone.mac, gone.vtep}}));
  EXPECT_EQ(changes.peers.neighboursToRemove, std::vector<Ipv4Address>{gone.address});
  EXPECT_EQ(changes.peers.learnedToRemove, std::vector<MacAddress>{gone.mac});
}

TEST(OverlayDiffTest, AStaleLearnedEntryIsRemovedAndLiveOnesKept) {
  auto plan = networkPlan({remoteEndpoint("10.0.15.3", "198.18.0.2")});
  auto observed = convergedFor(plan);
  MacAddress stale = macForIp(ip("10.0.15.77"));
  observed.learned.push_back(stale);
  auto changes = diffNetwork(plan, observed, kLocal);
  EXPECT_TRUE(changes.links.empty());
  EXPECT_EQ(changes.peers.learnedToRemove, std::vector<MacAddress>{stale});
  EXPECT_EQ(changes.peers.removals(), 1u);
  EXPECT_EQ(changes.peers.additions(), 0u);
}

TEST(OverlayDiffTest, AnEndpointThatMovedNodesGetsItsFdbEntryRepointed) {
  auto before = networkPlan({remoteEndpoint("10.0.15.3", "198.18.0.2")});
  auto after = networkPlan({remoteEndpoint("10.0.15.3", "198.18.0.3")});
  auto changes = diffNetwork(after, convergedFor(before), kLocal);
  auto moved = after.remotes.front();
  EXPECT_EQ(changes.peers.fdbToRemove,
            (std::vector<kernel::FdbEntry>{{moved.mac, ip("198.18.0.2")}}));
  EXPECT_EQ(changes.peers.fdbToAdd, (std::vector<kernel::FdbEntry>{{moved.mac, moved.vtep}}));
  // Same IP, same MAC: the neighbour entry stays.
  EXPECT_TRUE(changes.peers.neighboursToRemove.empty());
  EXPECT_TRUE(changes.peers.neighboursToAdd.empty());
}

TEST(OverlayDiffTest, LearntNeighboursAreLeftToAgeOut) {
  auto plan = networkPlan({});
  auto observed = convergedFor(plan);
  observed.neighbours.push_back({ip("10.0.15.50"), macForIp(ip("10.0.15.50")), false});
  EXPECT_TRUE(diffNetwork(plan, observed, kLocal).empty());
}

TEST(OverlayDiffTest, AVxlanDeviceWithOtherParametersIsReplacedAndRefilled) {
  auto plan = networkPlan({remoteEndpoint("10.0.15.3", "198.18.0.2")});
  auto observed = convergedFor(plan);
  observed.vxlanParameters->vni = 4097;
  observed.vxlanParameters->learning = true;
  auto changes = diffNetwork(plan, observed, kLocal);
  std::vector<LinkChange> expected = {{Action::Delete, "omvx4096"},
                                      {Action::CreateVxlan, "omvx4096"},
                                      {Action::SetMaster, "omvx4096"},
                                      {Action::SetUp, "omvx4096"}};
  EXPECT_EQ(changes.links, expected);
  // The old device's entries go with it; nothing to remove, everything to add.
  EXPECT_EQ(changes.peers.removals(), 0u);
  EXPECT_EQ(changes.peers.additions(), 2u);
}

TEST(OverlayDiffTest, ADeviceOfThatNameThatIsNotVxlanIsReplaced) {
  auto plan = networkPlan({});
  auto observed = convergedFor(plan);
  observed.vxlanParameters.reset();
  auto changes = diffNetwork(plan, observed, kLocal);
  ASSERT_FALSE(changes.links.empty());
  EXPECT_EQ(changes.links.front(), (LinkChange{Action::Delete, "omvx4096"}));
}

TEST(OverlayDiffTest, WrongMtuDownDevicesAndALostMasterAreRepaired) {
  auto plan = networkPlan({});
  auto observed = convergedFor(plan);
  observed.bridge->mtu = 1500;
  observed.bridge->up = false;
  observed.vxlan->masterIndex = 0;
  observed.vxlan->up = false;
  auto changes = diffNetwork(plan, observed, kLocal);
  std::vector<LinkChange> expected = {{Action::SetMtu, "ombr4096"},
                                      {Action::SetUp, "ombr4096"},
                                      {Action::SetMaster, "omvx4096"},
                                      {Action::SetUp, "omvx4096"}};
  EXPECT_EQ(changes.links, expected);
}

TEST(OverlayDiffTest, StaleDevicesAreOursThatNoPlanWants) {
  auto plan = networkPlan({});
  std::vector<kernel::LinkInfo> links = {
      {"lo", 1, "", 65536, true, 0, {}},          {"eth0", 2, "", 1500, true, 0, {}},
      {"ombr4096", 3, "bridge", 1450, true, 0, {}}, {"omvx4096", 4, "vxlan", 1450, true, 3, {}},
      {"ombr4097", 5, "bridge", 1450, true, 0, {}}, {"omvx4097", 6, "vxlan", 1450, true, 5, {}},
      {"omgwbridge", 7, "bridge", 1500, true, 0, {}}};
  EXPECT_EQ(staleDevices({plan}, links), (std::vector<std::string>{"ombr4097", "omvx4097"}));
  EXPECT_EQ(staleDevices({}, links),
            (std::vector<std::string>{"ombr4096", "omvx4096", "ombr4097", "omvx4097"}));
}

// ---- the ingress network: the node's own endpoint on the bridge ----

NetworkPlan ingressPlan() {
  auto plan = networkPlan({remoteEndpoint("10.0.0.3", "198.18.0.2")});
  plan.hostAddress = Ipv4Prefix::parse("10.0.0.2/24").value();
  return plan;
}

ObservedNetwork convergedIngress(const NetworkPlan& plan) {
  auto observed = convergedFor(plan);
  observed.bridge->mac = macForIp(plan.hostAddress->address());
  observed.bridgeAddresses = {*plan.hostAddress};
  return observed;
}

TEST(OverlayDiffTest, AFreshIngressBridgeGetsTheNodesMacAndAddressBeforeItGoesUp) {
  auto plan = ingressPlan();
  auto changes = diffNetwork(plan, ObservedNetwork{}, kLocal);
  std::vector<LinkChange> expected = {{Action::CreateBridge, "ombr4096"},
                                      {Action::SetMac, "ombr4096"},
                                      {Action::AddAddress, "ombr4096", *plan.hostAddress},
                                      {Action::SetUp, "ombr4096"},
                                      {Action::CreateVxlan, "omvx4096"},
                                      {Action::SetMaster, "omvx4096"},
                                      {Action::SetUp, "omvx4096"}};
  EXPECT_EQ(changes.links, expected);
}

TEST(OverlayDiffTest, AConvergedIngressBridgeNeedsNoChange) {
  auto plan = ingressPlan();
  EXPECT_TRUE(diffNetwork(plan, convergedIngress(plan), kLocal).empty());
}

TEST(OverlayDiffTest, ABridgeMacThatDriftedIsSetBackAlone) {
  auto plan = ingressPlan();
  auto observed = convergedIngress(plan);
  observed.bridge->mac = MacAddress::parse("02:42:0a:00:0f:99").value();
  auto changes = diffNetwork(plan, observed, kLocal);
  EXPECT_EQ(changes.links, (std::vector<LinkChange>{{Action::SetMac, "ombr4096"}}));
}

TEST(OverlayDiffTest, UnwantedBridgeAddressesAreRemoved) {
  auto plan = ingressPlan();
  auto observed = convergedIngress(plan);
  auto stray = Ipv4Prefix::parse("10.0.0.9/24").value();
  observed.bridgeAddresses.push_back(stray);
  EXPECT_EQ(diffNetwork(plan, observed, kLocal).links,
            (std::vector<LinkChange>{{Action::DeleteAddress, "ombr4096", stray}}));

  // The mesh went away but a local task keeps the network: the endpoint goes, the MAC
  // stays (nothing depends on it any more).
  auto plain = plan;
  plain.hostAddress.reset();
  EXPECT_EQ(diffNetwork(plain, convergedIngress(plan), kLocal).links,
            (std::vector<LinkChange>{{Action::DeleteAddress, "ombr4096", *plan.hostAddress}}));
}

TEST(OverlayDiffTest, ANewNodeAddressReplacesTheOldOne) {
  auto plan = ingressPlan();
  auto observed = convergedIngress(plan);
  auto moved = plan;
  moved.hostAddress = Ipv4Prefix::parse("10.0.0.7/24").value();
  std::vector<LinkChange> expected = {{Action::DeleteAddress, "ombr4096", *plan.hostAddress},
                                      {Action::SetMac, "ombr4096"},
                                      {Action::AddAddress, "ombr4096", *moved.hostAddress}};
  EXPECT_EQ(diffNetwork(moved, observed, kLocal).links, expected);
}

}  // namespace
}  // namespace overmesh::dataplane
