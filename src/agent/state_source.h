#pragma once

// Where an agent's desired state comes from: the manager over the cluster protocol
// (workers) or the manager's own store directly (the manager's local agent). Both give
// the same agent view (state/agent_view.h).

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "api/http_client.h"
#include "common/error.h"
#include "store/store.h"

namespace overmesh::agent {

struct Snapshot {
  std::vector<store::KeyValue> kvs;
  store::Revision revision = 0;
};

class StateSource {
 public:
  virtual ~StateSource() = default;
  // Unavailable when the source cannot be reached.
  virtual Result<Snapshot> snapshot() = 0;
  // Compacted when `fromRevision` is too old; Unavailable when unreachable.
  virtual Result<store::WatchResult> watch(store::Revision fromRevision,
                                           std::chrono::milliseconds wait) = 0;
};

struct NodeCredentials {
  std::string nodeId;
  std::string secret;
};

// The manager's cluster API over HTTP. Not thread-safe: one per thread.
class RemoteStateSource final : public StateSource {
 public:
  // `cancel` (may be null) aborts a long-poll in flight when it becomes true.
  RemoteStateSource(std::string managerEndpoint, NodeCredentials credentials,
                    const std::atomic<bool>* cancel);
  Result<Snapshot> snapshot() override;
  Result<store::WatchResult> watch(store::Revision fromRevision,
                                   std::chrono::milliseconds wait) override;

 private:
  Result<std::string> get(const std::string& path, std::chrono::milliseconds timeout);

  std::string endpoint_;
  NodeCredentials credentials_;
  const std::atomic<bool>* cancel_;
  std::unique_ptr<api::HttpClient> client_;
};

// The manager's own store, for the agent that runs inside the manager.
class LocalStateSource final : public StateSource {
 public:
  explicit LocalStateSource(store::Store& store) : store_(store) {}
  // Waits at most 1 s per call whatever `wait` says, so that the agent's stop() is prompt
  // (a local watch has no socket to cancel).
  Result<Snapshot> snapshot() override;
  Result<store::WatchResult> watch(store::Revision fromRevision,
                                   std::chrono::milliseconds wait) override;

 private:
  store::Store& store_;
};

// Headers that authenticate a node to the manager.
std::map<std::string, std::string> credentialHeaders(const NodeCredentials& credentials);

}  // namespace overmesh::agent
