#pragma once

// A lab of real daemons for one test: `overmesh lab up` in a temporary run directory,
// commands run on its hosts with `overmesh lab exec`, and `lab down` on destruction
// (also when the test failed). Polling helpers wait with generous bounds; tests never
// assert a speed.

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/process.h"

namespace overmesh::testing {

// Calls `check` every 100 ms until it returns true or `bound` passes; true if it did.
bool eventually(const std::function<bool()>& check, std::chrono::steady_clock::duration bound);

class LabSession {
 public:
  // Makes a unique lab name from `stem` (at most 4 characters).
  explicit LabSession(const std::string& stem);
  ~LabSession();
  LabSession(const LabSession&) = delete;
  LabSession& operator=(const LabSession&) = delete;

  // `lab up --hosts N --clients C --log-level LEVEL`, then waits until the manager sees
  // every node ready. Clients (0-20) are namespaces outside the cluster at
  // clientAddress(i); reach them with execClient(). On failure returns false with the
  // reason in error().
  bool up(int hosts, const std::string& logLevel = "info", int clients = 0);
  // `lab up --hosts N --managers M --store etcd` (3 etcd members in the lab), then waits
  // as up() does, asking every manager in turn.
  bool upOnEtcd(int hosts, int managers, const std::string& logLevel = "info");
  const std::string& error() const { return error_; }
  const std::string& name() const { return name_; }
  // Where the lab keeps its state: host i's socket is <runDir>/<name>/h<i>/overmesh.sock.
  const std::string& runDir() const { return runDir_.path(); }
  // Host i's state directory (<runDir>/<name>/h<i>/state); its pki/ holds the node's
  // certificate, key and the cluster CA (security/node_pki.h).
  std::string stateDir(int host) const {
    return runDir_.path() + "/" + name_ + "/h" + std::to_string(host) + "/state";
  }
  // Host i's daemon log.
  std::string logPath(int host) const {
    return runDir_.path() + "/" + name_ + "/h" + std::to_string(host) + "/overmeshd.log";
  }
  std::string hostNamespace(int host) const { return name_ + "-h" + std::to_string(host); }
  std::string clientNamespace(int client) const { return name_ + "-c" + std::to_string(client); }
  // Host i's underlay address, where published ports answer: 198.18.0.<i>.
  static std::string hostAddress(int host) { return "198.18.0." + std::to_string(host); }
  // Client i's underlay address: 198.18.0.<100+i>.
  static std::string clientAddress(int client) {
    return "198.18.0." + std::to_string(100 + client);
  }

  // `overmesh lab exec HOST -- ARGV…`
  CommandResult exec(int host, const std::vector<std::string>& argv) const;
  // `overmesh lab exec cCLIENT -- ARGV…`: in client `client` (1-based), outside the cluster.
  CommandResult execClient(int client, const std::vector<std::string>& argv) const;
  // `overmesh lab exec HOST -- overmesh ARGS…`
  CommandResult cli(int host, const std::vector<std::string>& args) const;
  // The same with --format json appended, parsed (null when it failed).
  nlohmann::json json(int host, const std::vector<std::string>& args) const;
  // `overmesh lab ARGS… --name NAME --run-dir DIR`
  CommandResult lab(const std::vector<std::string>& args) const;
  // The daemon logs of every host, for a failed test's output.
  std::string logs() const;

 private:
  std::string name_;
  TempDir runDir_;
  bool waitReady(int hosts, int managers);
  // With OVERMESH_LAB_UNIT set (`lab up` then runs that unit's ExecStart=, e.g. the installed
  // package's, tests/package/package_test.sh): checks that every host's daemon runs the
  // command lab.json records for it, starting with the unit's program, and says so on stderr.
  // False with the reason in error_ otherwise.
  bool checkUnitCommands();

  int hosts_ = 0;
  bool made_ = false;
  std::string error_;
};

}  // namespace overmesh::testing
