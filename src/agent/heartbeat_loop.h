#pragma once

// HeartbeatLoop tells the manager this node is alive: one small POST every third of
// the node timeout (the manager says how long that is in every answer), over one
// kept-alive mutual-TLS connection (the node's certificate says who it is; a renewal is
// picked up by the next beat). Runs on its own thread (start() / stop()).

#include <chrono>
#include <mutex>
#include <string>
#include <thread>

#include "agent/stop_signal.h"
#include "api/tls.h"

namespace overmesh::agent {

class HeartbeatLoop {
 public:
  // `managerEndpoint` is "tcp://IP:PORT"; `tls` the node's client configuration.
  HeartbeatLoop(std::string managerEndpoint, api::TlsClientConfigSource tls,
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

}  // namespace overmesh::agent
