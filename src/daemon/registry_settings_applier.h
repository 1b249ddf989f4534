#pragma once

// Keeps the node's podman configured with the cluster's registry settings (issue 10):
// the agent's state cache holds them under state::keys::kRegistries (api::RegistrySettings
// JSON; absent = none); whenever the cache changes, update() is given that record, and
// when the registries.conf it calls for differs from the last one wanted, a thread of
// this class writes it (PodmanService::configure), restarting a running service. The
// thread exists so that a restart of podman (seconds) never holds up the state sync that
// calls update().
//
// Thread-safe. Thread: "registries" waits for a new wanted text and applies it, retrying
// every few seconds after a failure.

#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "common/error.h"
#include "runtime/podman/podman_service.h"

namespace overmesh::daemon {

// The registries.conf for the record at state::keys::kRegistries (nullopt: none set).
// InvalidArgument when the record does not decode or holds a value registriesConf()
// refuses. Pure.
Result<std::string> registriesConfOfRecord(const std::optional<std::string>& record);

class RegistrySettingsApplier {
 public:
  // `podman` must outlive the applier.
  explicit RegistrySettingsApplier(runtime::podman::PodmanService& podman);
  ~RegistrySettingsApplier();
  RegistrySettingsApplier(const RegistrySettingsApplier&) = delete;
  RegistrySettingsApplier& operator=(const RegistrySettingsApplier&) = delete;

  // Takes the current record; cheap when it did not change. A record that cannot be
  // turned into a file is logged and ignored (the node keeps its last good settings).
  void update(const std::optional<std::string>& record);

 private:
  void run();

  runtime::podman::PodmanService& podman_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::optional<std::string> record_;  // guarded by mutex_; the last record seen
  bool seen_ = false;                  // guarded by mutex_; update() was called
  std::string wanted_;                 // guarded by mutex_
  std::string applied_;                // guarded by mutex_
  bool hasWanted_ = false;             // guarded by mutex_
  bool stopping_ = false;              // guarded by mutex_
  std::thread thread_;
};

}  // namespace overmesh::daemon
