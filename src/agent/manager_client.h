#pragma once

// One kept-alive mutual-TLS connection to a manager's cluster port, as the node's
// current certificate allows it (api/tls.h, api/cluster_protocol.h). A certificate
// renewal swaps the node's credentials: the next request notices that the source hands
// out another configuration than the one the client was built with, and reconnects
// with the new one. A failed request drops the connection, so the next one starts
// afresh. Not thread-safe: one per thread (the sync, the heartbeat, the renewal loop
// and the task reporter each have their own).
//
// With several managers (issue 13) the client is given the agent's shared
// ManagerEndpoints and follows the leader: a request that cannot reach its manager, or is
// answered 421 (api::kNotLeaderStatus: "not the leader, it is at …") or 503 (the manager
// cannot reach its store), moves the endpoints and is sent again to the next manager,
// after a pause of 100 ms doubling to 1 s, until it is answered, its timeout is spent, or
// every manager was tried twice. The request
// path is sent unchanged, so a watch resumes at the revision it asked for.

#include <atomic>
#include <chrono>
#include <memory>
#include <string>

#include "agent/manager_endpoints.h"
#include "api/http_client.h"
#include "api/tls.h"
#include "common/error.h"

namespace overmesh::agent {

class ManagerClient {
 public:
  // A single manager: `endpoint` is "tcp://IP:PORT" of its cluster port; `tls` hands out
  // this node's client configuration (never null once the node has joined); `cancel`
  // (may be null) aborts a request in flight, and a pause between attempts, when it
  // becomes true.
  ManagerClient(std::string endpoint, api::TlsClientConfigSource tls,
                const std::atomic<bool>* cancel = nullptr);
  // Whichever manager `managers` says is current (never null), following it as above.
  ManagerClient(std::shared_ptr<ManagerEndpoints> managers, api::TlsClientConfigSource tls,
                const std::atomic<bool>* cancel = nullptr);

  // Sends one request and returns the answer whatever its status (a 421 only when no
  // manager that leads could be found in time). Unavailable when no manager can be
  // reached or the handshake fails (the message says which), Internal when the source has
  // no configuration.
  Result<api::HttpResponse> request(const std::string& method, const std::string& path,
                                    const std::string& body, std::chrono::milliseconds timeout);

  // The same, failing with the manager's own error for an answer that is not a success;
  // returns the body.
  Result<std::string> call(const std::string& method, const std::string& path,
                           const std::string& body, std::chrono::milliseconds timeout);

  // Why the last attempt failed (Connect: the manager saw nothing of it).
  api::HttpClient::Failure lastFailure() const { return lastFailure_; }
  // "tcp://IP:PORT" of the manager the last attempt went to (or goes to next).
  std::string endpoint() const;

 private:
  // One attempt at `endpoint`; reconnects when the endpoint or the credentials changed.
  Result<api::HttpResponse> requestOnce(const std::string& endpoint, const std::string& method,
                                        const std::string& path, const std::string& body,
                                        std::chrono::milliseconds timeout);
  // Sleeps `pause` in short slices; false when cancelled.
  bool pauseFor(std::chrono::milliseconds pause) const;
  bool cancelled() const { return cancel_ && cancel_->load(); }

  std::string fixedEndpoint_;                   // "" when following managers_
  std::shared_ptr<ManagerEndpoints> managers_;  // null for a single manager
  api::TlsClientConfigSource tls_;
  const std::atomic<bool>* cancel_;
  std::unique_ptr<api::HttpClient> client_;
  std::string clientEndpoint_;  // where client_ is connected
  api::HttpClient::Failure lastFailure_ = api::HttpClient::Failure::None;
};

// The "leader" field of a 421 answer's body ("" when absent or malformed). Pure.
std::string leaderFromNotLeaderAnswer(const std::string& body);

}  // namespace overmesh::agent
