#pragma once

// The cluster protocol between agents and the manager (HTTP/JSON on the manager's
// cluster port, 2377 by default). Every request but join carries the node's
// credentials in two headers.

#include <chrono>
#include <cstdint>

namespace overmesh::api {

inline constexpr const char* kNodeIdHeader = "X-Overmesh-Node-Id";
inline constexpr const char* kNodeSecretHeader = "X-Overmesh-Node-Secret";

inline constexpr const char* kJoinPath = "/cluster/v1/join";            // POST
inline constexpr const char* kHeartbeatPath = "/cluster/v1/heartbeat";  // POST
inline constexpr const char* kLeavePath = "/cluster/v1/leave";          // POST
inline constexpr const char* kSnapshotPath = "/cluster/v1/snapshot";    // GET
inline constexpr const char* kWatchPath = "/cluster/v1/watch";          // GET ?from=REV&waitMs=N
// POST {"state","message","exitCode"}: the observed state of a task on the calling node.
inline constexpr const char* kTaskStatusPattern = "/cluster/v1/tasks/{id}/status";

// Node-to-node calls (exec, logs on the node that runs a task) carry the members' shared
// secret; every node serves them on its node port.
inline constexpr const char* kMemberSecretHeader = "X-Overmesh-Member-Secret";
inline constexpr std::uint16_t kDefaultNodePort = 2378;

// A watch long-poll is held at most this long; the client's timeout must exceed it.
inline constexpr std::chrono::milliseconds kMaxWatchWait{25'000};

}  // namespace overmesh::api
