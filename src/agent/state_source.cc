#include "agent/state_source.h"

#include <nlohmann/json.hpp>

#include "api/api_error.h"
#include "api/cluster_protocol.h"
#include "common/json.h"
#include "common/quote.h"
#include "state/agent_view.h"
#include "store/wire.h"

namespace overmesh::agent {

RemoteStateSource::RemoteStateSource(std::string managerEndpoint, api::TlsClientConfigSource tls,
                                     const std::atomic<bool>* cancel)
    : client_(std::move(managerEndpoint), std::move(tls), cancel) {}

RemoteStateSource::RemoteStateSource(std::shared_ptr<ManagerEndpoints> managers,
                                     api::TlsClientConfigSource tls,
                                     const std::atomic<bool>* cancel)
    : client_(std::move(managers), std::move(tls), cancel) {}

Result<std::string> RemoteStateSource::get(const std::string& path,
                                           std::chrono::milliseconds timeout) {
  return client_.call("GET", path, "", timeout);
}

Result<Snapshot> RemoteStateSource::snapshot() {
  auto body = get(api::kSnapshotPath, std::chrono::seconds(10));
  if (!body) {
    return std::unexpected(body.error());
  }
  try {
    auto json = nlohmann::json::parse(*body);
    if (!json.is_object() || !json.contains("kvs") || !json.at("kvs").is_array()) {
      return errorf(ErrorKind::Internal, "malformed snapshot from the manager: no \"kvs\" array");
    }
    Snapshot snapshot;
    requireField(json, "revision", snapshot.revision);
    for (const auto& kv : json.at("kvs")) {
      snapshot.kvs.push_back(store::keyValueFromJson(kv));
    }
    return snapshot;
  } catch (const std::exception& error) {
    return errorf(ErrorKind::Internal, "malformed snapshot from the manager: {}",
                  printable(error.what()));
  }
}

Result<store::WatchResult> RemoteStateSource::watch(store::Revision fromRevision,
                                                    std::chrono::milliseconds wait) {
  auto body = get(fmt::format("{}?from={}&waitMs={}", api::kWatchPath, fromRevision, wait.count()),
                  wait + std::chrono::seconds(10));
  if (!body) {
    return std::unexpected(body.error());
  }
  try {
    return store::watchResultFromJson(nlohmann::json::parse(*body));
  } catch (const std::exception& error) {
    return errorf(ErrorKind::Internal, "malformed watch answer from the manager: {}",
                  printable(error.what()));
  }
}

Result<Snapshot> LocalStateSource::snapshot() {
  auto snapshot = state::agentSnapshot(store_);
  if (!snapshot) {
    return std::unexpected(snapshot.error());
  }
  return Snapshot{std::move(snapshot->kvs), snapshot->revision};
}

Result<store::WatchResult> LocalStateSource::watch(store::Revision fromRevision,
                                                   std::chrono::milliseconds wait) {
  return state::agentWatch(store_, fromRevision, std::min(wait, std::chrono::milliseconds(1000)));
}

}  // namespace overmesh::agent
