#pragma once

// Services and tasks as the daemon would return them, for the CLI's pure service code
// (progress, tables) in unit tests.

#include <cstdint>
#include <string>

#include "api/service_types.h"
#include "api/types.h"

namespace overmesh::testing {

// A fixed "now" (ms since the epoch) for time texts: 2026-11-25T12:00:00Z.
inline constexpr std::int64_t kFixedNowMs = 1'795'608'000'000;

inline api::Service replicatedService(std::string name, std::int64_t replicas,
                                      std::int64_t version = 1) {
  api::Service service;
  service.id = name + "serviceid0000000000000";
  service.version = version;
  service.spec.name = std::move(name);
  service.spec.replicas = replicas;
  service.spec.command = {"httpd", "-f", "-p", "80"};
  return service;
}

inline api::Service globalService(std::string name, std::int64_t version = 1) {
  api::Service service = replicatedService(std::move(name), 0, version);
  service.spec.mode = "global";
  return service;
}

// A task of `service` in `slot` (0 for global) on `node`, `state` observed, desired
// running, of the service's current version, last changed `agoMs` before kFixedNowMs.
inline api::Task serviceTask(const api::Service& service, std::string id, std::int64_t slot,
                             std::string state, std::int64_t agoMs = 1000,
                             std::string node = "node1") {
  api::Task task;
  task.id = std::move(id);
  task.serviceId = service.id;
  task.serviceName = service.spec.name;
  task.slot = slot;
  task.nodeId = node + "nodeid00000000000000000";
  task.nodeName = std::move(node);
  task.name =
      service.spec.name + "." + (slot > 0 ? std::to_string(slot) : task.nodeId) + "." + task.id;
  task.command = service.spec.command;
  task.desiredState = "running";
  task.state = std::move(state);
  task.specVersion = service.version;
  task.updatedAtMs = kFixedNowMs - agoMs;
  return task;
}

// The same task, ended as the orchestrator leaves it: desired shutdown.
inline api::Task endedTask(const api::Service& service, std::string id, std::int64_t slot,
                           std::string state, std::string message, std::int64_t agoMs,
                           std::string node = "node1") {
  api::Task task =
      serviceTask(service, std::move(id), slot, std::move(state), agoMs, std::move(node));
  task.desiredState = "shutdown";
  task.message = std::move(message);
  task.exitCode = 1;
  return task;
}

}  // namespace overmesh::testing
