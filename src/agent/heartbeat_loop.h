#pragma once

// HeartbeatLoop tells the manager this node is alive: one small POST every third of
// the node timeout (the manager says how long that is in every answer), over one
// kept-alive connection. Runs on its own thread (start() / stop()).

#include <chrono>
#include <mutex>
#include <string>
#include <thread>

#include "agent/state_source.h"
#include "agent/stop_signal.h"

namespace overmesh::agent {

class HeartbeatLoop {
 public:
  HeartbeatLoop(std::string managerEndpoint, NodeCredentials credentials,
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

  std::string endpoint_;
  NodeCredentials credentials_;
  std::chrono::milliseconds interval_;  // touched only by the loop's thread
  StopSignal stop_;
  std::thread thread_;
  mutable std::mutex statusMutex_;
  bool healthy_ = false;    // guarded by statusMutex_
  std::string lastError_;   // guarded by statusMutex_
};

// A third of the timeout: two beats can be lost before the manager gives up on a node.
std::chrono::milliseconds heartbeatInterval(std::chrono::milliseconds nodeTimeout);

}  // namespace overmesh::agent
