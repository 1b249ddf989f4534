// The overlay data plane as the seed describes it, in a 3-host lab: containers (tasks)
// on any host get an address in their network's subnet on eth0 and reach each other
// directly; different networks cannot talk; two tasks on one host can both listen on
// port 80; the host namespaces never route an overlay subnet; traffic survives daemon
// restarts; the MTU is sized from the underlay.
//
// Run one:  ctest --test-dir BUILD -R OverlayTest.ReachesEveryTask   (as root)

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <sstream>
#include <memory>

#include "support/lab_session.h"

namespace overmesh::testing {
namespace {

using ::testing::HasSubstr;
using std::chrono::seconds;

constexpr auto kConverge = seconds(20);

// An echo server on port 7 that answers with its hostname first, so a reply proves
// which task answered.
const std::vector<std::string> kEchoServer = {
    "socat", "TCP-LISTEN:7,fork,reuseaddr", "SYSTEM:'hostname; cat'"};

class OverlayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!canUseNamespaces()) {
      GTEST_SKIP() << "needs root to create network namespaces";
    }
    lab_ = std::make_unique<LabSession>("ovl");
    ASSERT_TRUE(lab_->up(3)) << lab_->error();
    auto created = lab_->cli(1, {"network", "create", "-d", "overlay", "--attachable",
                                 "--subnet=10.0.15.0/24", "chaos_net"});
    ASSERT_EQ(created.exitCode, 0) << created.err;
  }

  void TearDown() override {
    if (lab_ && HasFailure()) {
      std::cerr << lab_->logs();
    }
    lab_.reset();
  }

  // Runs a task pinned to `host` and waits until it runs; returns its overlay address
  // on its first network.
  std::string run(const std::string& name, int host, const std::vector<std::string>& command,
                  const std::vector<std::string>& networks = {"chaos_net"}) {
    std::vector<std::string> args = {"run", "--name", name, "--node", lab_->hostNamespace(host)};
    for (const auto& network : networks) {
      args.insert(args.end(), {"--network", network});
    }
    args.push_back("--");
    args.insert(args.end(), command.begin(), command.end());
    auto result = lab_->cli(1, args);
    EXPECT_EQ(result.exitCode, 0) << result.err;
    auto task = lab_->json(1, {"ps"});
    for (const auto& entry : task) {
      if (entry.value("name", "") == name) {
        std::string address = entry["attachments"][0].value("address", "");
        return address.substr(0, address.find('/'));
      }
    }
    ADD_FAILURE() << "task " << name << " is not in ps";
    return "";
  }

  CommandResult inTask(const std::string& task, const std::vector<std::string>& argv) {
    std::vector<std::string> args = {"exec", task, "--"};
    args.insert(args.end(), argv.begin(), argv.end());
    return lab_->cli(1, args);
  }

  // True when `from` gets an answer from the echo server at `address`, naming `expect`.
  bool tcpReaches(const std::string& from, const std::string& address, const std::string& expect) {
    auto result = inTask(from, {"sh", "-c", fmt::format("echo hi | socat -T3 - TCP:{}:7,connect-timeout=3", address)});
    return result.exitCode == 0 && result.out.find(expect) != std::string::npos;
  }

  bool pings(const std::string& from, const std::string& address) {
    return inTask(from, {"ping", "-c1", "-W2", address}).exitCode == 0;
  }

  std::unique_ptr<LabSession> lab_;
};

TEST_F(OverlayTest, ReachesEveryTaskAcrossHostsByOverlayAddress) {
  std::map<std::string, std::string> address;
  for (int host = 1; host <= 3; ++host) {
    std::string name = fmt::format("t{}", host);
    address[name] = run(name, host, kEchoServer);
  }
  for (const auto& [name, ip] : address) {
    auto eth0 = inTask(name, {"ip", "-4", "-o", "addr", "show", "eth0"});
    EXPECT_THAT(eth0.out, HasSubstr(ip + "/24")) << name << "'s eth0 holds its overlay address";
    EXPECT_THAT(ip, ::testing::StartsWith("10.0.15."));
  }
  for (const auto& [from, fromIp] : address) {
    for (const auto& [to, toIp] : address) {
      if (from == to) {
        continue;
      }
      EXPECT_TRUE(eventually([&] { return pings(from, toIp); }, kConverge))
          << from << " pings " << to;
      EXPECT_TRUE(eventually([&] { return tcpReaches(from, toIp, to); }, kConverge))
          << from << " reaches " << to << "'s TCP echo";
    }
  }
}

TEST_F(OverlayTest, TwoTasksOnOneHostBothListenOnPort80) {
  std::vector<std::string> web = {"socat", "TCP-LISTEN:80,fork,reuseaddr", "SYSTEM:hostname"};
  std::string first = run("web-a", 1, web);
  std::string second = run("web-b", 1, web);
  run("client", 2, {"sleep", "3600"});
  for (const auto& [name, ip] : std::map<std::string, std::string>{{"web-a", first}, {"web-b", second}}) {
    EXPECT_TRUE(eventually(
        [&] {
          auto answer = inTask("client", {"socat", "-T3", "-", fmt::format("TCP:{}:80", ip)});
          return answer.exitCode == 0 && answer.out.find(name) != std::string::npos;
        },
        kConverge))
        << name << " answers on " << ip << ":80";
  }
}

TEST_F(OverlayTest, DifferentNetworksCannotReachEachOther) {
  ASSERT_EQ(lab_->cli(1, {"network", "create", "--attachable", "--subnet", "10.0.16.0/24",
                          "other_net"})
                .exitCode,
            0);
  run("same", 2, kEchoServer);
  std::string here = run("here", 1, {"sleep", "3600"});
  std::string there = run("there", 2, kEchoServer, {"other_net"});
  run("probe", 3, {"sleep", "3600"});
  // Sanity: the overlay itself works for `here`.
  ASSERT_TRUE(eventually([&] { return pings("probe", here); }, kConverge));

  // The kernel's count of ICMP echo requests that reached `there` (its own namespace's
  // /proc/net/snmp): proves drops, where a missing reply alone would not.
  auto echoRequestsReceived = [&] {
    auto snmp = inTask("there", {"cat", "/proc/net/snmp"});
    std::istringstream lines(snmp.out);
    std::string header;
    std::string values;
    for (std::string line; std::getline(lines, line);) {
      if (line.starts_with("Icmp:")) {
        if (header.empty()) {
          header = line;
        } else {
          values = line;
          break;
        }
      }
    }
    std::istringstream names(header);
    std::istringstream numbers(values);
    std::string name;
    std::string number;
    while (names >> name && numbers >> number) {
      if (name == "InEchos") {
        return std::stol(number);
      }
    }
    return -1L;
  };
  long before = echoRequestsReceived();
  auto ping = inTask("here", {"ping", "-c5", "-i", "0.2", "-W1", there});
  EXPECT_NE(ping.exitCode, 0);
  EXPECT_THAT(ping.out, HasSubstr("100% packet loss"));
  EXPECT_FALSE(tcpReaches("here", there, "there"));
  // Dropped, not merely unanswered: not one of those packets arrived on there's eth0.
  long after = echoRequestsReceived();
  ASSERT_GE(before, 0);
  EXPECT_EQ(after, before) << "echo requests from another network reached the task";
}

TEST_F(OverlayTest, HostNamespacesNeverRouteAnOverlaySubnet) {
  ASSERT_EQ(lab_->cli(1, {"network", "create", "--attachable", "--internal", "--subnet",
                          "10.0.17.0/24", "private_net"})
                .exitCode,
            0);
  for (int host = 1; host <= 3; ++host) {
    run(fmt::format("t{}", host), host, {"sleep", "3600"});
  }
  run("private", 2, {"sleep", "3600"}, {"private_net"});
  for (int host = 1; host <= 3; ++host) {
    auto addresses = lab_->exec(host, {"ip", "-4", "-o", "addr"});
    auto routes = lab_->exec(host, {"ip", "-4", "route"});
    EXPECT_THAT(addresses.out, ::testing::Not(HasSubstr(" 10.0."))) << "h" << host;
    EXPECT_THAT(routes.out, ::testing::Not(HasSubstr("10.0."))) << "h" << host;
  }
  auto privateRoutes = inTask("private", {"ip", "-4", "route"});
  EXPECT_THAT(privateRoutes.out, ::testing::Not(HasSubstr("default")))
      << "a task on only internal networks has no way out";
  auto publicRoutes = inTask("t1", {"ip", "-4", "route"});
  EXPECT_THAT(publicRoutes.out, HasSubstr("default"));
}

TEST_F(OverlayTest, MtuComesFromTheUnderlayAndBigSegmentsCross) {
  run("sink", 3, {"socat", "-u", "TCP-LISTEN:9000,fork,reuseaddr", "SYSTEM:wc -c"});
  std::string sinkIp = run("sink2", 3, {"sh", "-c", "socat -u TCP-LISTEN:9001 - | wc -c"});
  run("source", 1, {"sleep", "3600"});
  auto link = inTask("source", {"ip", "-j", "link", "show", "eth0"});
  auto json = nlohmann::json::parse(link.out, nullptr, false);
  ASSERT_TRUE(json.is_array()) << link.out;
  EXPECT_EQ(json[0]["mtu"].get<int>(), 1450) << "underlay 1500 minus 50 for VXLAN";
  // A 1400-byte payload with DF set crosses without fragmentation.
  EXPECT_TRUE(eventually(
      [&] { return inTask("source", {"ping", "-c1", "-W2", "-M", "do", "-s", "1400", sinkIp}).exitCode == 0; },
      kConverge));
  // A bulk TCP transfer uses full-size segments: with eth0 at 1500 they would not fit
  // through the VXLAN device and the transfer would stall.
  auto transfer = inTask("source", {"sh", "-c",
                                    fmt::format("head -c 2000000 /dev/zero | socat -T10 -u - "
                                                "TCP:{}:9001,connect-timeout=5",
                                                sinkIp)});
  EXPECT_EQ(transfer.exitCode, 0) << transfer.err;
  EXPECT_TRUE(eventually(
      [&] { return lab_->cli(1, {"logs", "sink2"}).out.find("2000000") != std::string::npos; },
      kConverge));
}

TEST_F(OverlayTest, StreamSurvivesDaemonRestartsAndRemovedTasksLeaveNoEntries) {
  std::string sinkIp = run("sink", 3, {"sh", "-c", "socat -u TCP-LISTEN:9000 - | wc -l"});
  run("source", 1,
      {"sh", "-c",
       fmt::format("i=0; while [ $i -lt 150 ]; do echo line $i; i=$((i+1)); sleep 0.04; done | "
                   "socat -u - TCP:{}:9000,connect-timeout=5; echo exit=$?",
                   sinkIp)});
  ASSERT_EQ(lab_->lab({"restart", "1"}).exitCode, 0);
  ASSERT_EQ(lab_->lab({"restart", "3"}).exitCode, 0);
  EXPECT_TRUE(eventually(
      [&] { return lab_->cli(1, {"logs", "sink"}).out.find("150") != std::string::npos; },
      seconds(30)))
      << "the sink received every line: " << lab_->cli(1, {"logs", "sink"}).out;
  EXPECT_THAT(lab_->cli(1, {"logs", "source"}).out, HasSubstr("exit=0"));

  auto sinkMac = lab_->json(1, {"ps"});
  std::string mac;
  for (const auto& task : sinkMac) {
    if (task.value("name", "") == "sink") {
      mac = task["attachments"][0].value("mac", "");
    }
  }
  ASSERT_FALSE(mac.empty());
  ASSERT_EQ(lab_->cli(1, {"rm", "-f", "sink"}).exitCode, 0);
  for (int host = 1; host <= 3; ++host) {
    EXPECT_TRUE(eventually(
        [&] {
          auto fdb = lab_->exec(host, {"bridge", "fdb", "show"});
          auto neighbours = lab_->exec(host, {"ip", "neigh", "show"});
          return fdb.out.find(mac) == std::string::npos &&
                 neighbours.out.find(sinkIp + " ") == std::string::npos;
        },
        kConverge))
        << "h" << host << " still has an entry for the removed task";
  }
}

}  // namespace
}  // namespace overmesh::testing
