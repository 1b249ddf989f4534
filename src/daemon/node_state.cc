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
                         {"managerAddress", state.managerAddress}};
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
