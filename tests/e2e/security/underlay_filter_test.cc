// Members only on the underlay (issue 12, item 5), as an attacker would try it: a lab of
// three hosts and one client (a namespace on the underlay that is not a member). A task on
// host 2 listens on UDP 9999 on an overlay network; vxlan_inject (tests/tools) sends one
// crafted VXLAN datagram carrying a frame for that task's MAC and IP:9999.
//  - control: sent from member host 3, the task receives it (so the test can see an
//    injection at all: VNI, MAC, addresses and checksums are right);
//  - from the client: the task never receives it and host 2's drop counter rises;
//  - ordinary overlay traffic from a task on host 3 still reaches it;
//  - with host 2's table deleted, the client's injection arrives (the filter is what
//    stopped it, nothing else on the way).
// And membership: a node that leaves removes its own table and leaves the others' sets.
//
// Run one:  ctest --test-dir BUILD -R UnderlayFilterLabTest   (as root)

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <random>
#include <string>
#include <thread>

#include "support/lab_session.h"

namespace overmesh::testing {
namespace {

using std::chrono::seconds;

constexpr auto kConverge = seconds(30);
constexpr int kListenPort = 9999;
constexpr int kReceiver = 2;  // the host that runs the listening task
constexpr int kSender = 3;    // the member host that runs the control injection and a task

std::string randomTag() {
  std::random_device device;
  return fmt::format("{:08x}", device());
}

class UnderlayFilterLabTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!canUseNamespaces()) {
      GTEST_SKIP() << "needs root to create network namespaces";
    }
    lab_ = std::make_unique<LabSession>("ufl");
    ASSERT_TRUE(lab_->up(3, "info", 1)) << lab_->error();
    auto created = lab_->cli(1, {"network", "create", "-d", "overlay", "--attachable",
                                 "--subnet=10.0.15.0/24", "inj_net"});
    ASSERT_EQ(created.exitCode, 0) << created.err;
  }

  void TearDown() override {
    if (lab_ && HasFailure()) {
      std::cerr << lab_->logs();
    }
    lab_.reset();
  }

  // Runs a task pinned to `host` on inj_net; waits until ps shows it with an address.
  // Returns its attachment (address without the prefix length, mac).
  std::pair<std::string, std::string> run(const std::string& name, int host,
                                          const std::vector<std::string>& command) {
    std::vector<std::string> args = {
        "run", "--name", name, "--node", lab_->hostNamespace(host), "--network", "inj_net", "--"};
    args.insert(args.end(), command.begin(), command.end());
    auto result = lab_->cli(1, args);
    EXPECT_EQ(result.exitCode, 0) << result.err;
    std::pair<std::string, std::string> attachment;
    EXPECT_TRUE(eventually(
        [&] {
          for (const auto& entry : lab_->json(1, {"ps"})) {
            if (entry.value("name", "") == name && entry.contains("attachments") &&
                !entry["attachments"].empty()) {
              std::string address = entry["attachments"][0].value("address", "");
              attachment = {address.substr(0, address.find('/')),
                            entry["attachments"][0].value("mac", "")};
              return !attachment.first.empty() && !attachment.second.empty();
            }
          }
          return false;
        },
        kConverge))
        << "task " << name << " has no attachment in ps";
    return attachment;
  }

  std::uint32_t networkVni() {
    auto inspected = lab_->json(1, {"network", "inspect", "inj_net"});
    const auto& network = inspected.is_array() && !inspected.empty() ? inspected[0] : inspected;
    EXPECT_TRUE(network.is_object() && network.contains("vni")) << inspected.dump();
    return network.is_object() ? network.value("vni", 0u) : 0u;
  }

  bool received(const std::string& task, const std::string& text) {
    auto logs = lab_->cli(1, {"logs", task});
    return logs.exitCode == 0 && logs.out.find(text) != std::string::npos;
  }

  // The packets counted by host 2's vxlan_dropped counter (nft, run only to observe);
  // -1 when it cannot be read.
  long long vxlanDrops(int host) {
    auto listed = lab_->exec(host, {"/usr/sbin/nft", "-j", "list", "counter", "inet",
                                    "overmesh_underlay", "vxlan_dropped"});
    auto json = nlohmann::json::parse(listed.out, nullptr, false);
    if (listed.exitCode != 0 || !json.is_object() || !json.contains("nftables")) {
      ADD_FAILURE() << "nft list counter on host " << host << ": " << listed.err;
      return -1;
    }
    for (const auto& item : json["nftables"]) {
      if (item.contains("counter")) {
        return item["counter"].value("packets", -1LL);
      }
    }
    return -1;
  }

  // vxlan_inject's arguments for a datagram to the task at (`ip`, `mac`) on host 2.
  std::vector<std::string> injection(std::uint32_t vni, const std::string& ip,
                                     const std::string& mac, const std::string& payload) {
    return {VXLAN_INJECT_PATH,
            "--to",
            LabSession::hostAddress(kReceiver),
            "--vni",
            std::to_string(vni),
            "--mac",
            mac,
            "--ip",
            ip,
            "--port",
            std::to_string(kListenPort),
            "--payload",
            payload,
            "--from-ip",
            "10.0.15.250"};
  }

  std::unique_ptr<LabSession> lab_;
};

TEST_F(UnderlayFilterLabTest, ANonMembersInjectedVxlanNeverReachesATask) {
  // socat prints each datagram it receives; `logs` shows them.
  auto [rxIp, rxMac] =
      run("rx", kReceiver, {"socat", "-u", fmt::format("UDP-RECV:{}", kListenPort), "-"});
  run("tx", kSender, {"sleep", "3600"});
  std::uint32_t vni = networkVni();
  ASSERT_NE(vni, 0u);
  ASSERT_FALSE(rxIp.empty());

  // Host 2's member set holds the three hosts and not the client.
  ASSERT_TRUE(eventually(
      [&] {
        auto set = lab_->exec(
            kReceiver, {"/usr/sbin/nft", "list", "set", "inet", "overmesh_underlay", "members"});
        return set.exitCode == 0 && set.out.find("198.18.0.1") != std::string::npos &&
               set.out.find("198.18.0.3") != std::string::npos;
      },
      kConverge))
      << "host 2's underlay filter never listed the members";
  auto members = lab_->exec(
      kReceiver, {"/usr/sbin/nft", "list", "set", "inet", "overmesh_underlay", "members"});
  EXPECT_EQ(members.out.find(LabSession::clientAddress(1)), std::string::npos) << members.out;

  // Control: a member's injection arrives (retried while the overlay converges).
  std::string control = "INJECTED-member-" + randomTag();
  EXPECT_TRUE(eventually(
      [&] {
        auto sent = lab_->exec(kSender, injection(vni, rxIp, rxMac, control));
        EXPECT_EQ(sent.exitCode, 0) << sent.err;
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        return received("rx", control);
      },
      kConverge))
      << "the control injection from member host 3 never reached the task: the test "
         "cannot see an injection";

  // The attack: the same datagram from the client, which is not a member.
  long long before = vxlanDrops(kReceiver);
  ASSERT_GE(before, 0);
  std::string attack = "INJECTED-client-" + randomTag();
  for (int i = 0; i < 3; ++i) {
    auto sent = lab_->execClient(1, injection(vni, rxIp, rxMac, attack));
    ASSERT_EQ(sent.exitCode, 0) << sent.err;
  }
  std::this_thread::sleep_for(seconds(3));
  EXPECT_FALSE(received("rx", attack)) << "a non-member's VXLAN datagram reached the task";
  EXPECT_GE(vxlanDrops(kReceiver), before + 3) << "host 2's drop counter did not rise";
  // `overmesh info` on host 2 reports the same counter.
  auto info = lab_->json(kReceiver, {"info"});
  ASSERT_TRUE(info.is_object() && info.contains("underlayFilter")) << info.dump();
  EXPECT_GE(info["underlayFilter"].value("vxlanDropped", 0LL), before + 3) << info.dump();
  EXPECT_NE(lab_->cli(kReceiver, {"info"}).out.find("Underlay filter: members only; dropped"),
            std::string::npos);

  // Members' overlay traffic still flows: tx on host 3 sends to rx on host 2.
  std::string overlay = "OVERLAY-" + randomTag();
  EXPECT_TRUE(eventually(
      [&] {
        auto sent = lab_->cli(
            1, {"exec", "tx", "--", "sh", "-c",
                fmt::format("echo {} | socat -u - UDP:{}:{}", overlay, rxIp, kListenPort)});
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        return sent.exitCode == 0 && received("rx", overlay);
      },
      kConverge))
      << "overlay traffic from host 3 to host 2 no longer flows";

  // Proof that the filter is what stopped it: with host 2's table deleted (by the test,
  // inside the lab host), the client's injection arrives.
  auto deleted =
      lab_->exec(kReceiver, {"/usr/sbin/nft", "delete", "table", "inet", "overmesh_underlay"});
  ASSERT_EQ(deleted.exitCode, 0) << deleted.err;
  std::string unfiltered = "INJECTED-unfiltered-" + randomTag();
  EXPECT_TRUE(eventually(
      [&] {
        auto sent = lab_->execClient(1, injection(vni, rxIp, rxMac, unfiltered));
        EXPECT_EQ(sent.exitCode, 0) << sent.err;
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        return received("rx", unfiltered);
      },
      seconds(10)))
      << "without the filter the client's injection should arrive; the test proves nothing";
}

TEST_F(UnderlayFilterLabTest, ALeavingNodeRemovesItsTableAndLeavesTheOtherMembersSets) {
  auto setOf = [&](int host) {
    return lab_->exec(host,
                      {"/usr/sbin/nft", "list", "set", "inet", "overmesh_underlay", "members"});
  };
  for (int host = 1; host <= 3; ++host) {
    EXPECT_TRUE(eventually(
        [&] {
          auto set = setOf(host);
          return set.exitCode == 0 && set.out.find(LabSession::hostAddress(3)) != std::string::npos;
        },
        kConverge))
        << "host " << host << "'s set never listed host 3";
  }
  auto left = lab_->cli(3, {"swarm", "leave"});
  ASSERT_EQ(left.exitCode, 0) << left.err;
  auto table = lab_->exec(3, {"/usr/sbin/nft", "list", "table", "inet", "overmesh_underlay"});
  EXPECT_NE(table.exitCode, 0) << "host 3 still has its table after leaving:\n" << table.out;
  EXPECT_FALSE(lab_->json(3, {"info"}).contains("underlayFilter"));
  for (int host = 1; host <= 2; ++host) {
    EXPECT_TRUE(eventually(
        [&] {
          auto set = setOf(host);
          return set.exitCode == 0 &&
                 set.out.find(LabSession::hostAddress(3)) == std::string::npos &&
                 set.out.find(LabSession::hostAddress(1)) != std::string::npos &&
                 set.out.find(LabSession::hostAddress(2)) != std::string::npos;
        },
        kConverge))
        << "host " << host << "'s set still lists host 3 (or lost a member):\n"
        << setOf(host).out;
  }
}

}  // namespace
}  // namespace overmesh::testing
