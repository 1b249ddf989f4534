#include "agent/manager_client.h"

#include "api/api_error.h"

namespace overmesh::agent {

ManagerClient::ManagerClient(std::string endpoint, api::TlsClientConfigSource tls,
                             const std::atomic<bool>* cancel)
    : endpoint_(std::move(endpoint)), tls_(std::move(tls)), cancel_(cancel) {}

Result<api::HttpResponse> ManagerClient::request(const std::string& method, const std::string& path,
                                                 const std::string& body,
                                                 std::chrono::milliseconds timeout) {
  auto config = tls_ ? tls_() : nullptr;
  if (!config) {
    lastFailure_ = api::HttpClient::Failure::Connect;
    return errorf(ErrorKind::Internal,
                  "no TLS credentials to reach the manager at {}: this node has no certificate",
                  endpoint_);
  }
  // A renewal made new credentials: reconnect with them (the old connection still works,
  // but its certificate is on its way out).
  if (client_ && client_->tls() != config) {
    client_.reset();
  }
  if (!client_) {
    auto made = api::HttpClient::create(endpoint_, config);
    if (!made) {
      lastFailure_ = api::HttpClient::Failure::Connect;
      return std::unexpected(made.error());
    }
    client_ = std::move(*made);
    client_->setCancelFlag(cancel_);
  }
  auto response = client_->request(method, path, body, timeout);
  lastFailure_ = client_->lastFailure();
  if (!response) {
    client_.reset();  // a fresh connection next time
  }
  return response;
}

Result<std::string> ManagerClient::call(const std::string& method, const std::string& path,
                                        const std::string& body,
                                        std::chrono::milliseconds timeout) {
  auto response = request(method, path, body, timeout);
  if (!response) {
    return std::unexpected(response.error());
  }
  if (!api::isSuccess(*response)) {
    return std::unexpected(api::errorFromResponse(*response));
  }
  return std::move(response->body);
}

}  // namespace overmesh::agent
