#pragma once

// Revocation of a removed node's open connections to the manager's cluster server, a
// moment after the removal rather than inside it. The removal may be caused by a
// request on one of those very connections (a worker's POST kLeavePath): closing them
// at once would cut the answer to it, and the worker would report that the manager did
// not confirm its leave. New handshakes of the node are refused from the removal on
// (ClusterApi::admit); only the cut of its open ones waits kRevocationGrace, well within
// the second in which `node rm` must end a watch stream.
//
// Thread: one, started by the constructor, that closes the connections when their
// grace has passed; stop() (or the destructor) ends it, dropping what is still pending
// (the server is stopping then anyway).

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace overmesh::daemon {

inline constexpr std::chrono::milliseconds kRevocationGrace{300};

class ConnectionRevoker {
 public:
  // `close` cuts every open connection of the node and returns how many it cut
  // (HttpServer::closeConnections by peer node ID).
  using Close = std::function<std::size_t(const std::string& nodeId)>;
  explicit ConnectionRevoker(Close close,
                             std::chrono::milliseconds grace = kRevocationGrace);
  ~ConnectionRevoker();
  ConnectionRevoker(const ConnectionRevoker&) = delete;
  ConnectionRevoker& operator=(const ConnectionRevoker&) = delete;

  // Schedules the cut of `nodeId`'s connections `grace` from now. Never blocks on the
  // network. Thread-safe.
  void revoke(const std::string& nodeId);
  // Ends the thread. Idempotent.
  void stop();

 private:
  struct Pending {
    std::chrono::steady_clock::time_point due;
    std::string nodeId;
  };
  void run();

  Close close_;
  std::chrono::milliseconds grace_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Pending> pending_;  // guarded by mutex_; in order of `due`
  bool stopping_ = false;        // guarded by mutex_
  std::thread thread_;
};

}  // namespace overmesh::daemon
