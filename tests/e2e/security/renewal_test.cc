// Certificate renewal without a restart (issue 12): with `swarm update --cert-expiry 1m`
// every node renews at once (its 90-day certificate outlives the new expiry), then again
// at half of the minute; once the first short certificate has expired the cluster still
// works: a network created on the manager reaches every worker and every node is ready.
// The serials are read from the nodes' pki/node.pem with `openssl x509`.
//
// Run one:  ctest --test-dir BUILD -R SecurityRenewalTest   (as root)

#include <gmock/gmock.h>

#include <map>

#include "e2e/security/security_fixture.h"

namespace overmesh::testing {
namespace {

using std::chrono::seconds;
using RenewalClock = std::chrono::steady_clock;

using SecurityRenewalTest = SecurityLabTest;

// Two renewals of a 1-minute certificate: at once, then after ~30 s; generous for a loaded
// machine and the agents' retry interval.
constexpr auto kTwoRenewals = seconds(150);

bool networkListedOn(const LabSession& lab, int host, const std::string& name) {
  auto networks = lab.json(host, {"network", "ls"});
  if (!networks.is_array()) {
    return false;
  }
  return std::any_of(networks.begin(), networks.end(),
                     [&](const auto& network) { return network.value("name", "") == name; });
}

// The PIDs of the lab's daemons, by host index.
std::vector<int> daemonPids(const LabSession& lab) {
  std::vector<int> pids;
  auto status = nlohmann::json::parse(lab.lab({"status", "--format", "json"}).out, nullptr, false);
  if (status.is_object()) {
    for (const auto& host : status["hosts"]) {
      pids.push_back(host.value("daemonAlive", false) ? host.value("pid", 0) : 0);
    }
  }
  return pids;
}

TEST_F(SecurityRenewalTest, ShortCertExpiryRenewsEveryNodeAndTheClusterKeepsWorking) {
  auto pidsBefore = daemonPids(*lab_);
  ASSERT_EQ(pidsBefore.size(), static_cast<std::size_t>(kHosts));
  std::map<int, std::vector<std::string>> serials;  // host -> serials seen, in order
  for (int host = 1; host <= kHosts; ++host) {
    serials[host].push_back(serialOf(pkiOf(host).cert));
    ASSERT_FALSE(serials[host].back().empty()) << "no certificate in " << pkiOf(host).cert;
  }
  auto updated = lab_->cli(1, {"swarm", "update", "--cert-expiry", "1m"});
  ASSERT_EQ(updated.exitCode, 0) << updated.out << updated.err;
  auto start = RenewalClock::now();

  // Each worker's certificate changes twice; the first short one is kept for later.
  std::map<int, std::string> firstShort;
  std::map<int, std::vector<double>> renewedAfter;
  bool renewed = eventually(
      [&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(900));  // about once a second
        bool done = true;
        for (int host = 1; host <= kHosts; ++host) {
          std::string now = serialOf(pkiOf(host).cert);
          if (!now.empty() && now != serials[host].back()) {
            serials[host].push_back(now);
            renewedAfter[host].push_back(
                std::chrono::duration<double>(RenewalClock::now() - start).count());
            if (serials[host].size() == 2) {
              firstShort[host] = files_.path() + fmt::format("/h{}-first.pem", host);
              std::filesystem::copy_file(pkiOf(host).cert, firstShort[host],
                                         std::filesystem::copy_options::overwrite_existing);
            }
          }
          // Workers: two renewals. The manager renews itself too: at least once.
          done = done && serials[host].size() >= (host == 1 ? 2u : 3u);
        }
        return done;
      },
      kTwoRenewals);
  for (int host = 1; host <= kHosts; ++host) {
    std::cerr << fmt::format("[ info ] h{} renewed its certificate after", host);
    for (double after : renewedAfter[host]) {
      std::cerr << fmt::format(" {:.1f} s", after);
    }
    std::cerr << "\n";
  }
  ASSERT_TRUE(renewed) << "not every node renewed in time (serials per host: h1 "
                       << serials[1].size() - 1 << ", h2 " << serials[2].size() - 1 << ", h3 "
                       << serials[3].size() - 1 << ")";
  // The first renewal took the new expiry: that certificate lasts at most the minute (and
  // the minute of clock skew allowance before it), so it ends within 2 minutes.
  for (const auto& [host, file] : firstShort) {
    auto checked = openssl({"x509", "-checkend", "120", "-noout", "-in", file});
    EXPECT_EQ(checked.exitCode, 1) << "h" << host << "'s renewed certificate lasts longer: "
                                   << openssl({"x509", "-enddate", "-noout", "-in", file}).out;
  }

  // Once every first short certificate has expired, the cluster still works.
  EXPECT_TRUE(eventually(
      [&] {
        for (const auto& [host, file] : firstShort) {
          if (openssl({"x509", "-checkend", "0", "-noout", "-in", file}).exitCode == 0) {
            return false;  // still valid
          }
        }
        return true;
      },
      seconds(120)));
  std::cerr << fmt::format("[ info ] first short certificates expired {:.1f} s after the update\n",
                           std::chrono::duration<double>(RenewalClock::now() - start).count());
  auto created = lab_->cli(1, {"network", "create", "-d", "overlay", "afterexpiry"});
  ASSERT_EQ(created.exitCode, 0) << created.err;
  for (int host = 2; host <= kHosts; ++host) {
    EXPECT_TRUE(eventually([&] { return networkListedOn(*lab_, host, "afterexpiry"); }, kConverge))
        << "the network never reached h" << host;
  }
  EXPECT_TRUE(eventually([&] { return allReady(kHosts); }, kConverge))
      << lab_->cli(1, {"node", "ls"}).out;
  // No daemon was restarted for it.
  EXPECT_EQ(daemonPids(*lab_), pidsBefore);
}

}  // namespace
}  // namespace overmesh::testing
