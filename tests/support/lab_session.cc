#include "support/lab_session.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

namespace overmesh::testing {

bool eventually(const std::function<bool()>& check, std::chrono::steady_clock::duration bound) {
  auto deadline = std::chrono::steady_clock::now() + bound;
  while (true) {
    if (check()) {
      return true;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

LabSession::LabSession(const std::string& stem) {
  static int made = 0;
  name_ = fmt::format("{}{}{}", stem.substr(0, 4), getpid() % 1000,
                      static_cast<char>('a' + made++ % 26));
}

LabSession::~LabSession() {
  if (made_) {
    lab({"down"});  // also ends image tasks' conmons and containers (lab/lab_leftovers.h)
  }
}

CommandResult LabSession::lab(const std::vector<std::string>& args) const {
  std::vector<std::string> argv = {binaryPath("overmesh"), "lab"};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.insert(argv.end(), {"--name", name_, "--run-dir", runDir_.path()});
  return runCommand(argv);
}

bool LabSession::up(int hosts, const std::string& logLevel, int clients) {
  hosts_ = hosts;
  made_ = true;
  auto result = lab({"up", "--hosts", std::to_string(hosts), "--clients", std::to_string(clients),
                     "--log-level", logLevel});
  if (result.exitCode != 0) {
    error_ = result.out + result.err;
    return false;
  }
  return checkUnitCommands() && waitReady(hosts, 1);
}

bool LabSession::checkUnitCommands() {
  const char* unit = std::getenv("OVERMESH_LAB_UNIT");
  if (unit == nullptr || *unit == '\0') {
    return true;
  }
  auto record =
      nlohmann::json::parse(readFile(runDir_.path() + "/" + name_ + "/lab.json"), nullptr, false);
  if (record.is_discarded() || !record.contains("unitCommand") || !record["hosts"].is_array()) {
    error_ = "OVERMESH_LAB_UNIT is set but lab.json has no unit's command";
    return false;
  }
  std::string program = record["unitCommand"].empty() ? "" : record["unitCommand"][0];
  for (const auto& host : record["hosts"]) {
    std::vector<std::string> recorded = host.value("command", std::vector<std::string>{});
    std::string cmdline = readFile(fmt::format("/proc/{}/cmdline", host.value("pid", 0)));
    std::vector<std::string> running;
    for (std::size_t start = 0; start < cmdline.size();) {
      std::size_t end = cmdline.find('\0', start);
      running.push_back(cmdline.substr(start, end - start));
      start = end == std::string::npos ? cmdline.size() : end + 1;
    }
    if (recorded.empty() || running != recorded || recorded.front() != program) {
      error_ = fmt::format(
          "OVERMESH_LAB_UNIT={}: {}'s daemon runs \"{}\", not the unit's {} as "
          "recorded (\"{}\")",
          unit, host.value("name", "?"), fmt::join(running, " "), program,
          fmt::join(recorded, " "));
      return false;
    }
  }
  std::cerr << fmt::format(
      "lab {}: every host runs ExecStart= of {}: {}\n", name_, unit,
      fmt::join(record["hosts"][0]["command"].get<std::vector<std::string>>(), " "));
  return true;
}

bool LabSession::upOnEtcd(int hosts, int managers, const std::string& logLevel) {
  hosts_ = hosts;
  made_ = true;
  auto result = lab({"up", "--hosts", std::to_string(hosts), "--managers", std::to_string(managers),
                     "--store", "etcd", "--log-level", logLevel});
  if (result.exitCode != 0) {
    error_ = result.out + result.err;
    return false;
  }
  return checkUnitCommands() && waitReady(hosts, managers);
}

bool LabSession::waitReady(int hosts, int managers) {
  bool ready = eventually(
      [&] {
        for (int manager = 1; manager <= managers; ++manager) {
          auto nodes = json(manager, {"node", "ls"});
          if (!nodes.is_array() || static_cast<int>(nodes.size()) != hosts) {
            return false;
          }
          for (const auto& node : nodes) {
            if (node.value("state", "") != "ready") {
              return false;
            }
          }
        }
        return true;
      },
      std::chrono::seconds(15 + 5 * (managers - 1)));
  if (!ready) {
    error_ = "the nodes did not all become ready:\n" + cli(1, {"node", "ls"}).out;
  }
  return ready;
}

namespace {

CommandResult labExec(const std::string& name, const std::string& runDir, const std::string& target,
                      const std::vector<std::string>& argv) {
  std::vector<std::string> full = {
      binaryPath("overmesh"), "lab", "exec", "--name", name, "--run-dir", runDir, target, "--"};
  full.insert(full.end(), argv.begin(), argv.end());
  return runCommand(full);
}

}  // namespace

CommandResult LabSession::exec(int host, const std::vector<std::string>& argv) const {
  return labExec(name_, runDir_.path(), std::to_string(host), argv);
}

CommandResult LabSession::execClient(int client, const std::vector<std::string>& argv) const {
  return labExec(name_, runDir_.path(), "c" + std::to_string(client), argv);
}

CommandResult LabSession::cli(int host, const std::vector<std::string>& args) const {
  std::vector<std::string> argv = {binaryPath("overmesh")};
  argv.insert(argv.end(), args.begin(), args.end());
  return exec(host, argv);
}

nlohmann::json LabSession::json(int host, const std::vector<std::string>& args) const {
  std::vector<std::string> withFormat = args;
  withFormat.insert(withFormat.end(), {"--format", "json"});
  auto result = cli(host, withFormat);
  if (result.exitCode != 0) {
    return nullptr;
  }
  return nlohmann::json::parse(result.out, nullptr, false);
}

std::string LabSession::logs() const {
  std::string all;
  for (int host = 1; host <= hosts_; ++host) {
    std::ifstream file(fmt::format("{}/{}/h{}/overmeshd.log", runDir_.path(), name_, host));
    std::stringstream content;
    content << file.rdbuf();
    all += fmt::format("---- overmeshd log of h{} ----\n{}\n", host, content.str());
  }
  return all;
}

}  // namespace overmesh::testing
