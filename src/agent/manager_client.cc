#include "agent/manager_client.h"

#include <thread>

#include "api/api_error.h"
#include "api/cluster_protocol.h"
#include "common/json.h"

namespace overmesh::agent {
namespace {

// ErrorKind::Unavailable's status (api/api_error.h).
constexpr int kUnavailableStatus = 503;

}  // namespace

std::string leaderFromNotLeaderAnswer(const std::string& body) {
  std::string leader;
  auto read = decodeFields(body, "not-the-leader answer",
                           [&](const nlohmann::json& json) { readField(json, "leader", leader); });
  if (!read || leader.size() > 64) {
    return "";
  }
  return leader;
}

ManagerClient::ManagerClient(std::string endpoint, api::TlsClientConfigSource tls,
                             const std::atomic<bool>* cancel)
    : fixedEndpoint_(std::move(endpoint)), tls_(std::move(tls)), cancel_(cancel) {}

ManagerClient::ManagerClient(std::shared_ptr<ManagerEndpoints> managers,
                             api::TlsClientConfigSource tls, const std::atomic<bool>* cancel)
    : managers_(std::move(managers)), tls_(std::move(tls)), cancel_(cancel) {}

std::string ManagerClient::endpoint() const {
  return managers_ ? "tcp://" + managers_->current() : fixedEndpoint_;
}

Result<api::HttpResponse> ManagerClient::requestOnce(const std::string& endpoint,
                                                     const std::string& method,
                                                     const std::string& path,
                                                     const std::string& body,
                                                     std::chrono::milliseconds timeout) {
  auto config = tls_ ? tls_() : nullptr;
  if (!config) {
    lastFailure_ = api::HttpClient::Failure::Connect;
    return errorf(ErrorKind::Internal,
                  "no TLS credentials to reach the manager at {}: this node has no certificate",
                  endpoint);
  }
  // A renewal made new credentials: reconnect with them (the old connection still works,
  // but its certificate is on its way out). Another manager: connect there.
  if (client_ && (client_->tls() != config || clientEndpoint_ != endpoint)) {
    client_.reset();
  }
  if (!client_) {
    auto made = api::HttpClient::create(endpoint, config);
    if (!made) {
      lastFailure_ = api::HttpClient::Failure::Connect;
      return std::unexpected(made.error());
    }
    client_ = std::move(*made);
    client_->setCancelFlag(cancel_);
    clientEndpoint_ = endpoint;
  }
  auto response = client_->request(method, path, body, timeout);
  lastFailure_ = client_->lastFailure();
  if (!response) {
    client_.reset();  // a fresh connection next time
  }
  return response;
}

bool ManagerClient::pauseFor(std::chrono::milliseconds pause) const {
  auto until = std::chrono::steady_clock::now() + pause;
  while (std::chrono::steady_clock::now() < until) {
    if (cancelled()) {
      return false;
    }
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
        std::chrono::milliseconds(20), until - std::chrono::steady_clock::now()));
  }
  return !cancelled();
}

Result<api::HttpResponse> ManagerClient::request(const std::string& method, const std::string& path,
                                                 const std::string& body,
                                                 std::chrono::milliseconds timeout) {
  if (!managers_) {
    return requestOnce(fixedEndpoint_, method, path, body, timeout);
  }
  using std::chrono::steady_clock;
  const auto deadline = steady_clock::now() + timeout;
  // Every manager twice: once to find it dead or not leading, once more after the
  // cluster had the time to elect (the pauses add up to a few seconds).
  const int maxAttempts = static_cast<int>(2 * managers_->addresses().size()) + 1;
  Result<api::HttpResponse> last = errorf(ErrorKind::Unavailable, "no manager tried");
  for (int attempt = 0; attempt < maxAttempts; ++attempt) {
    if (attempt > 0) {
      auto pause = ManagerEndpoints::backoff(attempt);
      if (steady_clock::now() + pause >= deadline || !pauseFor(pause)) {
        break;
      }
    }
    auto remaining =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady_clock::now());
    if (remaining <= std::chrono::milliseconds(0)) {
      break;
    }
    std::string address = managers_->current();
    last = requestOnce("tcp://" + address, method, path, body, remaining);
    if (cancelled()) {
      break;
    }
    if (!last) {
      if (last.error().kind == ErrorKind::Internal ||
          lastFailure_ == api::HttpClient::Failure::TooLarge) {
        break;  // not the manager's fault: another one would answer the same
      }
      managers_->unreachable(address);
      continue;
    }
    if (last->status == api::kNotLeaderStatus) {
      managers_->notLeader(address, leaderFromNotLeaderAnswer(last->body));
      continue;
    }
    if (last->status == kUnavailableStatus) {
      // The manager runs but cannot serve (its store is out of reach, as for a manager
      // cut off from etcd): another one may.
      managers_->unreachable(address);
      continue;
    }
    managers_->reached(address);
    break;
  }
  return last;
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
