#pragma once

// The task agent's test bed: a node "node-a" (198.18.0.1) in a three-node cluster with
// one overlay network, a fake kernel, a fake runtime, a fake image store, a manual clock, and a
// reporter that records every report. The test sets the tasks, then runs reconcile passes (and
// health passes) by hand. Reports may come from the agent's stop and health threads, so they are
// read through reports()/sent().

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <ostream>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "agent/task_agent.h"
#include "common/clock.h"
#include "state/keys.h"
#include "support/fake_embedded_dns.h"
#include "support/fake_image_store.h"
#include "support/fake_kernel.h"
#include "support/fake_runtime.h"
#include "support/overlay_fixtures.h"

namespace overmesh::testing {

inline constexpr const char* kSelf = "node-a";
inline constexpr const char* kVxlan = "omvx4096";
// Short, so the tests do not wait the real drain; long enough to measure.
inline constexpr std::chrono::milliseconds kTestDrain{50};
// How long a test waits for the agent's threads before it fails.
inline constexpr std::chrono::milliseconds kTestPatience{5000};

// A task on network n1 with `address`, desired running, observed `state`.
inline api::Task task(std::string id, std::string nodeId, std::string address,
                      std::string state = "pending") {
  api::Task t;
  t.id = std::move(id);
  t.name = "web." + t.id;
  t.nodeId = std::move(nodeId);
  t.command = {"sleep", "infinity"};
  t.desiredState = "running";
  t.state = std::move(state);
  auto ip = Ipv4Prefix::parse(address);
  t.attachments.push_back({"n1", "chaos_net", address, macForIp(ip->address()).toString()});
  return t;
}

struct Report {
  std::string taskId;
  std::string state;
  std::int64_t exitCode = 0;
  bool operator==(const Report&) const = default;
  friend void PrintTo(const Report& report, std::ostream* out) {
    *out << "{" << report.taskId << " " << report.state << " " << report.exitCode << "}";
  }
};

class TaskAgentTest : public ::testing::Test {
 protected:
  // The cluster's records: network n1, nodes a-c, `tasks`, and `services` (with the
  // networks and nodes in `extraNetworks`/`nodes` when given, for routing-mesh tests).
  void setTasks(const std::vector<api::Task>& tasks, const std::vector<api::Service>& services = {},
                const std::vector<api::Network>& extraNetworks = {},
                const std::vector<api::Node>& nodes = {}) {
    std::vector<store::KeyValue> kvs;
    auto put = [&](std::string key, const nlohmann::json& value) {
      kvs.push_back({std::move(key), value.dump(), revision_, revision_, 1, 0});
    };
    put(state::keys::network("n1"), overlayNetwork());
    for (const auto& network : extraNetworks) {
      put(state::keys::network(network.id), network);
    }
    if (nodes.empty()) {
      put(state::keys::node("node-a"), readyNode("node-a", "198.18.0.1"));
      put(state::keys::node("node-b"), readyNode("node-b", "198.18.0.2"));
      put(state::keys::node("node-c"), readyNode("node-c", "198.18.0.3"));
    }
    for (const auto& node : nodes) {
      put(state::keys::node(node.id), node);
    }
    for (const auto& t : tasks) {
      put(state::keys::task(t.id), t);
    }
    for (const auto& service : services) {
      put(state::keys::service(service.id), service);
    }
    cache_.replace(kvs, revision_++);
  }

  // `reservedPorts`: TaskAgentConfig::reservedPorts.
  std::unique_ptr<agent::TaskAgent> makeAgent(
      std::set<std::pair<std::string, std::uint16_t>> reservedPorts = {}) {
    agent::TaskAgentConfig config;
    config.nodeId = kSelf;
    config.advertiseAddress = *Ipv4Address::parse("198.18.0.1");
    config.namespacePrefix = "om-";
    config.gatewaySubnet = *Ipv4Prefix::parse("172.18.0.0/16");
    config.drainBeforeStop = kTestDrain;
    config.reservedPorts = std::move(reservedPorts);
    return std::make_unique<agent::TaskAgent>(
        config, cache_,
        [this](const std::string& taskId, const agent::TaskReport& report) -> Status {
          std::lock_guard lock(reportsMutex_);
          sent_.emplace_back(taskId, report);
          return {};
        },
        kernel_, runtime_, images_, dns_, &clock_);
  }

  // The reports so far: task, state and exit code.
  std::vector<Report> reports() const {
    std::lock_guard lock(reportsMutex_);
    std::vector<Report> brief;
    for (const auto& [taskId, report] : sent_) {
      brief.push_back({taskId, report.state, report.exitCode});
    }
    return brief;
  }
  // The reports so far, whole.
  std::vector<std::pair<std::string, agent::TaskReport>> sent() const {
    std::lock_guard lock(reportsMutex_);
    return sent_;
  }

  // Forgets what was recorded so far, so that a test sees one pass's changes. Only while
  // no agent thread runs.
  void clearRecords() {
    kernel_.mutations.clear();
    runtime_.calls.clear();
    runtime_.stops.clear();
    runtime_.execs.clear();
    std::lock_guard lock(reportsMutex_);
    sent_.clear();
  }

  static MacAddress macOf(const char* ip) { return macForIp(*Ipv4Address::parse(ip)); }

  agent::StateCache cache_;
  FakeNodeKernel kernel_;
  FakeTaskRuntime runtime_;
  FakeImageStore images_;
  FakeEmbeddedDns dns_;
  ManualClock clock_;
  store::Revision revision_ = 10;

 private:
  mutable std::mutex reportsMutex_;
  std::vector<std::pair<std::string, agent::TaskReport>> sent_;  // guarded by reportsMutex_
};

}  // namespace overmesh::testing
