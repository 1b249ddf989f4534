#pragma once

// HeartbeatLoop tells the manager this node is alive: one small POST every third of
// the node timeout (the manager says how long that is in every answer), over one
// kept-alive mutual-TLS connection (the node's certificate says who it is; a renewal is
// picked up by the next beat). Runs on its own thread (start() / stop()).
//
// With several managers the beats go to the leader through the agent's shared
// ManagerEndpoints, and each reply's "leader" and "managers" (api/cluster_protocol.h)
// update it: that is how every client of the agent learns where the managers are.

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "agent/manager_endpoints.h"
#include "agent/stop_signal.h"
#include "api/tls.h"
#include "common/error.h"

namespace overmesh::agent {

class HeartbeatLoop {
 public:
  // `managerEndpoint` is "tcp://IP:PORT"; `tls` the node's client configuration.
  HeartbeatLoop(std::string managerEndpoint, api::TlsClientConfigSource tls,
                std::chrono::milliseconds nodeTimeout);
  // Beats to whichever manager `managers` says is current, and teaches it the replies.
  HeartbeatLoop(std::shared_ptr<ManagerEndpoints> managers, api::TlsClientConfigSource tls,
                std::chrono::milliseconds nodeTimeout);
  ~HeartbeatLoop();

  void start();
  // Asks the thread to finish without waiting for it; stop() waits.
  void requestStop() { stop_.stop(); }
  void stop();

  bool healthy() const;
  std::string lastError() const;

 private:
  void run();

  std::string endpoint_;                        // "" when following managers_
  std::shared_ptr<ManagerEndpoints> managers_;  // null for a single manager
  api::TlsClientConfigSource tls_;
  std::chrono::milliseconds interval_;  // touched only by the loop's thread
  StopSignal stop_;
  std::thread thread_;
  mutable std::mutex statusMutex_;
  bool healthy_ = false;    // guarded by statusMutex_
  std::string lastError_;   // guarded by statusMutex_
};

// A third of the timeout: two beats can be lost before the manager gives up on a node.
std::chrono::milliseconds heartbeatInterval(std::chrono::milliseconds nodeTimeout);

// A heartbeat reply's fields: absent ones stay 0 / empty. InvalidArgument when the body
// is not a JSON object or a field has the wrong type. Pure.
struct HeartbeatReply {
  std::int64_t nodeTimeoutMs = 0;
  std::string leader;
  std::vector<std::string> managers;
};
Result<HeartbeatReply> parseHeartbeatReply(const std::string& body);

}  // namespace overmesh::agent
