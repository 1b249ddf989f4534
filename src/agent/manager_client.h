#pragma once

// One kept-alive mutual-TLS connection to the manager's cluster port, as the node's
// current certificate allows it (api/tls.h, api/cluster_protocol.h). A certificate
// renewal swaps the node's credentials: the next request notices that the source hands
// out another configuration than the one the client was built with, and reconnects
// with the new one. A failed request drops the connection, so the next one starts
// afresh. Not thread-safe: one per thread (the sync, the heartbeat, the renewal loop
// and the task reporter each have their own).

#include <atomic>
#include <chrono>
#include <memory>
#include <string>

#include "api/http_client.h"
#include "api/tls.h"
#include "common/error.h"

namespace overmesh::agent {

class ManagerClient {
 public:
  // `endpoint` is "tcp://IP:PORT" of the manager's cluster port; `tls` hands out this
  // node's client configuration (never null once the node has joined); `cancel` (may be
  // null) aborts a request in flight when it becomes true.
  ManagerClient(std::string endpoint, api::TlsClientConfigSource tls,
                const std::atomic<bool>* cancel = nullptr);

  // Sends one request and returns the answer whatever its status. Unavailable when the
  // manager cannot be reached or the handshake fails (the message says which), Internal
  // when the source has no configuration.
  Result<api::HttpResponse> request(const std::string& method, const std::string& path,
                                    const std::string& body, std::chrono::milliseconds timeout);

  // The same, failing with the manager's own error for an answer that is not a success;
  // returns the body.
  Result<std::string> call(const std::string& method, const std::string& path,
                           const std::string& body, std::chrono::milliseconds timeout);

  // Why the last request failed (Connect: the manager saw nothing of it).
  api::HttpClient::Failure lastFailure() const { return lastFailure_; }
  const std::string& endpoint() const { return endpoint_; }

 private:
  std::string endpoint_;
  api::TlsClientConfigSource tls_;
  const std::atomic<bool>* cancel_;
  std::unique_ptr<api::HttpClient> client_;
  api::HttpClient::Failure lastFailure_ = api::HttpClient::Failure::None;
};

}  // namespace overmesh::agent
