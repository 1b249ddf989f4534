#include "daemon/agent_role.h"

namespace overmesh::daemon {

std::unique_ptr<AgentRole> AgentRole::forWorker(const std::string& managerAddress,
                                                agent::NodeCredentials credentials) {
  auto role = std::unique_ptr<AgentRole>(new AgentRole());
  std::string endpoint = "tcp://" + managerAddress;
  // The source needs the sync's cancel flag and the sync owns the source: make the sync,
  // then hand it its source.
  auto sync = std::make_unique<agent::StateSync>(nullptr, role->cache_);
  sync->setSource(
      std::make_unique<agent::RemoteStateSource>(endpoint, credentials, sync->cancelFlag()));
  role->sync_ = std::move(sync);
  role->heartbeat_ = std::make_unique<agent::HeartbeatLoop>(endpoint, credentials,
                                                            std::chrono::milliseconds(3000));
  role->sync_->start();
  role->heartbeat_->start();
  return role;
}

std::unique_ptr<AgentRole> AgentRole::forManager(store::Store& store) {
  auto role = std::unique_ptr<AgentRole>(new AgentRole());
  role->sync_ = std::make_unique<agent::StateSync>(
      std::make_unique<agent::LocalStateSource>(store), role->cache_);
  role->sync_->start();
  return role;
}

AgentRole::~AgentRole() { stop(); }

void AgentRole::requestStop() {
  if (heartbeat_) {
    heartbeat_->requestStop();
  }
  if (sync_) {
    sync_->requestStop();
  }
}

void AgentRole::stop() {
  if (heartbeat_) {
    heartbeat_->stop();
  }
  if (sync_) {
    sync_->stop();
  }
}

std::string AgentRole::problem() const {
  if (sync_ && !sync_->connected()) {
    std::string error = sync_->lastError();
    return error.empty() ? "not yet in sync with the manager" : error;
  }
  if (heartbeat_ && !heartbeat_->healthy()) {
    std::string error = heartbeat_->lastError();
    return error.empty() ? "no heartbeat answered yet" : error;
  }
  return "";
}

}  // namespace overmesh::daemon
