#pragma once

// Builders for the orchestrator's unit tests, and FakeCluster: a ClusterView that
// applies Decisions as the manager's ServiceManager does (new tasks pending, stopped
// tasks desired shutdown at the current time, removed records gone), so a test can step
// the orchestrator through a scenario and play the agents' reports in between.

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "api/service_types.h"
#include "api/types.h"
#include "orchestrator/orchestrator.h"

namespace overmesh::testing {

inline api::Node clusterNode(std::string id, std::string hostname, std::string state = "ready",
                             std::string role = "worker", api::Labels labels = {}) {
  api::Node n;
  n.id = std::move(id);
  n.hostname = std::move(hostname);
  n.state = std::move(state);
  n.role = std::move(role);
  n.labels = std::move(labels);
  return n;
}

inline api::Service replicatedService(std::string id, std::int64_t replicas) {
  api::Service s;
  s.id = id;
  s.spec.name = "svc-" + id;
  s.spec.mode = "replicated";
  s.spec.replicas = replicas;
  s.spec.command = {"/bin/sleep", "infinity"};
  s.spec.restartPolicy.delayMs = 0;
  return s;
}

inline api::Service globalService(std::string id) {
  api::Service s = replicatedService(std::move(id), 0);
  s.spec.mode = "global";
  return s;
}

inline api::Task serviceTask(std::string id, std::string serviceId, std::int64_t slot,
                             std::string nodeId, std::string state = "running",
                             std::int64_t specVersion = 1) {
  api::Task t;
  t.id = std::move(id);
  t.serviceId = std::move(serviceId);
  t.slot = slot;
  t.nodeId = std::move(nodeId);
  t.desiredState = "running";
  t.state = std::move(state);
  t.specVersion = specVersion;
  return t;
}

// A task that ended and was shut down earlier: history.
inline api::Task finishedTask(std::string id, std::string serviceId, std::int64_t slot,
                              std::string nodeId, std::string state, std::int64_t updatedAtMs) {
  api::Task t =
      serviceTask(std::move(id), std::move(serviceId), slot, std::move(nodeId), std::move(state));
  t.desiredState = "shutdown";
  t.updatedAtMs = updatedAtMs;
  if (t.state == "failed") {
    t.exitCode = 1;
  }
  return t;
}

class FakeCluster {
 public:
  orchestrator::ClusterView view;

  // Runs reconcile() and applies its decisions; returns them.
  orchestrator::Decisions step() {
    orchestrator::Decisions decisions = orchestrator::reconcile(view);
    apply(decisions);
    return decisions;
  }

  void apply(const orchestrator::Decisions& decisions) {
    for (const auto& stop : decisions.shutDown) {
      api::Task& t = task(stop.taskId);
      t.desiredState = "shutdown";
      t.message = stop.reason;
      t.updatedAtMs = view.nowMs;
    }
    std::map<std::string, const api::Service*> services;
    for (const api::Service& s : view.services) {
      services.emplace(s.id, &s);
    }
    for (const auto& create : decisions.create) {
      const api::Service& s = *services.at(create.serviceId);
      api::Task t = serviceTask(
          fmt::format("{}.{}.{}", s.spec.name,
                      create.slot == 0 ? create.nodeId : std::to_string(create.slot), nextId_++),
          create.serviceId, create.slot, create.nodeId, "pending", create.specVersion);
      t.healthCheck = s.spec.healthCheck;
      t.health = s.spec.healthCheck ? "starting" : "";
      t.updatedAtMs = view.nowMs;
      view.tasks.push_back(std::move(t));
    }
    for (const auto& id : decisions.remove) {
      std::erase_if(view.tasks, [&](const api::Task& t) { return t.id == id; });
    }
    for (const auto& [serviceId, problem] : decisions.placementProblems) {
      service(serviceId).placementProblem = problem;
    }
  }

  // The agent's report: observed state (and exit code) at the current time.
  void report(const std::string& taskId, std::string state, std::int64_t exitCode = 0) {
    api::Task& t = task(taskId);
    t.state = std::move(state);
    t.exitCode = exitCode;
    t.updatedAtMs = view.nowMs;
  }

  // Every agent does what its tasks' records ask: pending tasks start, tasks told to
  // shut down stop.
  void agentsCatchUp() {
    for (api::Task& t : view.tasks) {
      const bool nodeUp = std::any_of(view.nodes.begin(), view.nodes.end(), [&](const auto& n) {
        return n.id == t.nodeId && n.state == "ready";
      });
      if (!nodeUp) {
        continue;
      }
      if (t.desiredState == "running" && t.state == "pending") {
        t.state = "running";
        t.health = t.healthCheck ? "healthy" : "";
        t.updatedAtMs = view.nowMs;
      } else if (t.desiredState == "shutdown" && (t.state == "running" || t.state == "pending")) {
        t.state = "shutdown";
        t.updatedAtMs = view.nowMs;
      }
    }
  }

  api::Task& task(const std::string& id) {
    for (api::Task& t : view.tasks) {
      if (t.id == id) {
        return t;
      }
    }
    throw std::out_of_range("no task " + id);
  }

  api::Service& service(const std::string& id) {
    for (api::Service& s : view.services) {
      if (s.id == id) {
        return s;
      }
    }
    throw std::out_of_range("no service " + id);
  }

  api::Node& node(const std::string& id) {
    for (api::Node& n : view.nodes) {
      if (n.id == id) {
        return n;
      }
    }
    throw std::out_of_range("no node " + id);
  }

  // Tasks of a service that should run, by node ID.
  std::map<std::string, int> runningByNode(const std::string& serviceId) const {
    std::map<std::string, int> counts;
    for (const api::Task& t : view.tasks) {
      if (t.serviceId == serviceId && t.desiredState == "running") {
        ++counts[t.nodeId];
      }
    }
    return counts;
  }

  // Slots of a service's tasks that should run, sorted.
  std::vector<std::int64_t> runningSlots(const std::string& serviceId) const {
    std::vector<std::int64_t> slots;
    for (const api::Task& t : view.tasks) {
      if (t.serviceId == serviceId && t.desiredState == "running") {
        slots.push_back(t.slot);
      }
    }
    std::sort(slots.begin(), slots.end());
    return slots;
  }

 private:
  int nextId_ = 0;
};

}  // namespace overmesh::testing
