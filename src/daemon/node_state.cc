#include "daemon/node_state.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/atomic_file.h"
#include "common/json.h"

namespace overmesh::daemon {
namespace {

std::string nodeStatePath(const std::string& stateDir) { return stateDir + "/node.json"; }

// The parts of a StoreLocation a restart needs, as written: no URL parsing on the way back.
nlohmann::json storeToJson(const store::StoreLocation& location) {
  if (!location.isEtcd()) {
    return {{"kind", "sqlite"}};
  }
  return {{"kind", "etcd"},
          {"endpoints", location.endpoints},
          {"caFile", location.caFile},
          {"certFile", location.certFile},
          {"keyFile", location.keyFile}};
}

// Throws JsonFieldError (turned into the corrupt-file error by the caller).
store::StoreLocation storeFromJson(const nlohmann::json& json) {
  store::StoreLocation location;
  std::string kind;
  requireField(json, "kind", kind);
  if (kind == "sqlite") {
    return location;
  }
  if (kind != "etcd") {
    throw JsonFieldError("field \"store.kind\" must be sqlite or etcd");
  }
  location.kind = store::StoreLocation::Kind::Etcd;
  requireField(json, "endpoints", location.endpoints);
  constexpr std::size_t kMaxEndpoints = 16;
  if (location.endpoints.empty() || location.endpoints.size() > kMaxEndpoints) {
    throw JsonFieldError("field \"store.endpoints\" must hold 1 to 16 HOST:PORT");
  }
  readField(json, "caFile", location.caFile);
  readField(json, "certFile", location.certFile);
  readField(json, "keyFile", location.keyFile);
  return location;
}

}  // namespace

Result<std::optional<NodeState>> loadNodeState(const std::string& stateDir) {
  std::ifstream file(nodeStatePath(stateDir));
  if (!file) {
    return std::optional<NodeState>();
  }
  std::stringstream content;
  content << file.rdbuf();
  try {
    auto json = nlohmann::json::parse(content.str());
    NodeState state;
    readField(json, "nodeId", state.nodeId);
    readField(json, "role", state.role);
    readField(json, "clusterId", state.clusterId);
    readField(json, "advertiseAddress", state.advertiseAddress);
    readField(json, "managerAddress", state.managerAddress);
    if (auto store = json.find("store"); store != json.end()) {
      if (!store->is_object()) {
        throw JsonFieldError("field \"store\" is not an object");
      }
      try {
        state.store = storeFromJson(*store);
      } catch (const JsonFieldError& error) {
        throw JsonFieldError(std::string("in \"store\": ") + error.what());
      }
    }
    return std::optional<NodeState>(state);
  } catch (const std::exception& error) {
    return errorf(ErrorKind::Internal, "{} is corrupt ({}); move it away to start afresh",
                  nodeStatePath(stateDir), error.what());
  }
}

Status saveNodeState(const std::string& stateDir, const NodeState& state) {
  nlohmann::json json = {{"nodeId", state.nodeId},
                         {"role", state.role},
                         {"clusterId", state.clusterId},
                         {"advertiseAddress", state.advertiseAddress},
                         {"managerAddress", state.managerAddress},
                         {"store", storeToJson(state.store)}};
  return writeFileAtomically(nodeStatePath(stateDir), dumpJson(json, 2), 0600);
}

Status removeNodeState(const std::string& stateDir) {
  if (unlink(nodeStatePath(stateDir).c_str()) != 0 && errno != ENOENT) {
    return errorf(ErrorKind::Unavailable, "unlink {}: {}", nodeStatePath(stateDir),
                  errnoText(errno));
  }
  return {};
}

}  // namespace overmesh::daemon
