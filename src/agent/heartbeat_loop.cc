#include "agent/heartbeat_loop.h"

#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "agent/manager_client.h"
#include "api/api_error.h"
#include "api/cluster_protocol.h"
#include "common/json.h"

namespace overmesh::agent {

std::chrono::milliseconds heartbeatInterval(std::chrono::milliseconds nodeTimeout) {
  return std::max(nodeTimeout / 3, std::chrono::milliseconds(100));
}

Result<HeartbeatReply> parseHeartbeatReply(const std::string& body) {
  HeartbeatReply reply;
  auto read = decodeFields(body, "heartbeat answer", [&](const nlohmann::json& json) {
    readField(json, "nodeTimeoutMs", reply.nodeTimeoutMs);
    readField(json, "leader", reply.leader);
    readField(json, "managers", reply.managers);
  });
  if (!read) {
    return std::unexpected(read.error());
  }
  return reply;
}

HeartbeatLoop::HeartbeatLoop(std::shared_ptr<ManagerEndpoints> managers,
                             api::TlsClientConfigSource tls, std::chrono::milliseconds nodeTimeout)
    : managers_(std::move(managers)),
      tls_(std::move(tls)),
      interval_(heartbeatInterval(nodeTimeout)) {}

HeartbeatLoop::HeartbeatLoop(std::string managerEndpoint, api::TlsClientConfigSource tls,
                             std::chrono::milliseconds nodeTimeout)
    : endpoint_(std::move(managerEndpoint)),
      tls_(std::move(tls)),
      interval_(heartbeatInterval(nodeTimeout)) {}

HeartbeatLoop::~HeartbeatLoop() { stop(); }

void HeartbeatLoop::start() {
  thread_ = std::thread([this] { run(); });
}

void HeartbeatLoop::stop() {
  stop_.stop();
  if (thread_.joinable()) {
    thread_.join();
  }
}

bool HeartbeatLoop::healthy() const {
  std::lock_guard lock(statusMutex_);
  return healthy_;
}

std::string HeartbeatLoop::lastError() const {
  std::lock_guard lock(statusMutex_);
  return lastError_;
}

// Thread: one heartbeat per interval until stop().
void HeartbeatLoop::run() {
  ManagerClient client = managers_ ? ManagerClient(managers_, tls_, stop_.flag())
                                   : ManagerClient(endpoint_, tls_, stop_.flag());
  do {
    auto response = client.request("POST", api::kHeartbeatPath, "{}", interval_ * 2);
    std::string error;
    if (!response) {
      error = response.error().message;
    } else if (!api::isSuccess(*response)) {
      error = api::errorFromResponse(*response).message;
    } else {
      // The manager's answer is a peer's JSON: a malformed one keeps the interval and
      // the managers known.
      auto reply = parseHeartbeatReply(response->body);
      if (!reply) {
        error = reply.error().message;
      } else {
        if (reply->nodeTimeoutMs >= 300 && reply->nodeTimeoutMs <= 3'600'000) {
          interval_ = heartbeatInterval(std::chrono::milliseconds(reply->nodeTimeoutMs));
        }
        if (managers_ && (!reply->leader.empty() || !reply->managers.empty())) {
          managers_->learn(reply->leader, reply->managers);
        }
      }
    }
    std::lock_guard lock(statusMutex_);
    if (error.empty() != healthy_ || error != lastError_) {
      if (error.empty()) {
        spdlog::info("heartbeat: manager {} reached, every {} ms", client.endpoint(),
                     interval_.count());
      } else {
        spdlog::warn("heartbeat: {}", error);
      }
    }
    healthy_ = error.empty();
    lastError_ = error;
  } while (stop_.sleepFor(interval_));
}

}  // namespace overmesh::agent
