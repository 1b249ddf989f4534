#include "state/agent_view.h"

#include <array>

#include "state/keys.h"

namespace overmesh::state {

bool isAgentVisibleKey(std::string_view key) {
  static constexpr std::array<std::string_view, 4> kVisible = {
      keys::kNetworks, keys::kNodes, keys::kTasks, keys::kServices};
  if (key == keys::kRegistries) {
    return true;  // registry hosts and mirrors, no credentials
  }
  if (key == keys::kCluster) {
    // The CA's certificate and the certificate expiry (each node's renewal follows it);
    // since issue 12 the record holds nothing secret (token hashes live under
    // kNodeCredentials).
    return true;
  }
  for (std::string_view prefix : kVisible) {
    if (key.starts_with(prefix)) {
      return true;
    }
  }
  return false;
}

Result<AgentSnapshot> agentSnapshot(store::Store& store) {
  auto range = store.range(std::string(keys::kRoot));
  if (!range) {
    return std::unexpected(range.error());
  }
  AgentSnapshot snapshot;
  snapshot.revision = range->revision;
  for (auto& kv : range->kvs) {
    if (isAgentVisibleKey(kv.key)) {
      snapshot.kvs.push_back(std::move(kv));
    }
  }
  return snapshot;
}

Result<store::WatchResult> agentWatch(store::Store& store, store::Revision fromRevision,
                                      std::chrono::milliseconds wait) {
  auto deadline = std::chrono::steady_clock::now() + wait;
  while (true) {
    auto now = std::chrono::steady_clock::now();
    auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline > now ? deadline - now : std::chrono::steady_clock::duration::zero());
    auto batch = store.watch(std::string(keys::kRoot), fromRevision, remaining);
    if (!batch) {
      return batch;
    }
    store::WatchResult visible;
    visible.nextRevision = batch->nextRevision;
    for (auto& event : batch->events) {
      if (isAgentVisibleKey(event.kv.key)) {
        visible.events.push_back(std::move(event));
      }
    }
    // Only invisible keys changed (a guard, a credential): keep waiting rather than wake
    // the agent for nothing, but never past the caller's deadline.
    if (!visible.events.empty() || remaining.count() == 0 ||
        batch->nextRevision == fromRevision) {
      return visible;
    }
    fromRevision = batch->nextRevision;
  }
}

}  // namespace overmesh::state
