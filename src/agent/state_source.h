#pragma once

// Where an agent's desired state comes from: the manager over the cluster protocol
// (workers) or the manager's own store directly (the manager's local agent). Both give
// the same agent view (state/agent_view.h).

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "agent/manager_client.h"
#include "api/tls.h"
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

// The manager's cluster API over mutual TLS (the node's certificate says who it is).
// Not thread-safe: one per thread.
class RemoteStateSource final : public StateSource {
 public:
  // `managerEndpoint` is "tcp://IP:PORT"; `tls` the node's client configuration (a
  // renewal is picked up by the next request); `cancel` (may be null) aborts a long-poll
  // in flight when it becomes true.
  RemoteStateSource(std::string managerEndpoint, api::TlsClientConfigSource tls,
                    const std::atomic<bool>* cancel);
  // Whichever manager `managers` says is current: a watch cut by a dead manager is asked
  // again of the next one from the same revision (ManagerClient), so no relist happens
  // unless that revision was compacted.
  RemoteStateSource(std::shared_ptr<ManagerEndpoints> managers, api::TlsClientConfigSource tls,
                    const std::atomic<bool>* cancel);
  Result<Snapshot> snapshot() override;
  Result<store::WatchResult> watch(store::Revision fromRevision,
                                   std::chrono::milliseconds wait) override;

 private:
  Result<std::string> get(const std::string& path, std::chrono::milliseconds timeout);

  ManagerClient client_;
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

}  // namespace overmesh::agent
