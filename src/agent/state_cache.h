#pragma once

// An agent's local copy of the desired state it needs (networks, nodes, tasks,
// services), kept at one Store revision: replaced whole from a snapshot, then advanced
// by watch events in revision order. Reconcilers and the worker's read API read it.
//
// Thread safety: every method is thread-safe; mutex_ guards the entries and revision.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "api/service_types.h"
#include "api/types.h"
#include "common/error.h"
#include "store/store.h"

namespace overmesh::agent {

class StateCache {
 public:
  // Replaces everything with a snapshot taken at `revision`.
  void replace(const std::vector<store::KeyValue>& kvs, store::Revision revision);

  // Applies events in order and moves to `nextRevision - 1`. Events at or below the
  // current revision are skipped (a resumed watch may repeat the last one).
  void apply(const std::vector<store::Event>& events, store::Revision nextRevision);

  store::Revision revision() const;
  bool synced() const;  // true once the first snapshot arrived

  // Waits until the cache has reached `revision`; false on timeout.
  bool waitForRevision(store::Revision revision, std::chrono::milliseconds timeout) const;

  // Decoded objects under a prefix; records that do not decode are skipped and logged.
  std::vector<api::Network> networks() const;
  std::vector<api::Node> nodes() const;
  std::vector<api::Task> tasks() const;
  std::vector<api::Service> services() const;  // sorted by name
  // The cluster's registry settings; empty lists when none are stored.
  api::RegistrySettings registries() const;
  // The raw record at `key` (e.g. state::keys::kRegistries), or nullopt when absent.
  std::optional<std::string> value(const std::string& key) const;

  // Called (outside the lock) after every change, with the new revision; reconcilers use
  // it to wake up. Set it before the cache is shared.
  void setOnChange(std::function<void(store::Revision)> onChange);

 private:
  template <typename T>
  std::vector<T> decodeAll(std::string_view prefix) const;
  void changed(store::Revision revision);
  // Keeps nodes_ in step with one entry written (value) or deleted (nullopt).
  void noteNodeLocked(const std::string& key, const std::string* value);

  mutable std::mutex mutex_;
  mutable std::condition_variable revisionReached_;
  std::map<std::string, std::string> entries_;  // guarded by mutex_
  store::Revision revision_ = 0;                // guarded by mutex_
  bool synced_ = false;                         // guarded by mutex_
  // The node records, decoded once when they change: every reconcile reads all nodes, and
  // on a manager of 1,000 nodes decoding them all each time was most of its steady CPU.
  std::map<std::string, api::Node> nodes_;  // guarded by mutex_
  std::function<void(store::Revision)> onChange_;
};

}  // namespace overmesh::agent
