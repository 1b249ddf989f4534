#include "daemon/node_state.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/json.h"

namespace overmesh::daemon {
namespace {

std::string nodeStatePath(const std::string& stateDir) { return stateDir + "/node.json"; }

}  // namespace

Status writeFileAtomically(const std::string& path, const std::string& content, int mode) {
  std::string temporary = path + ".tmp";
  int fd = open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) {
    return errorf(ErrorKind::Unavailable, "open {}: {}", temporary, errnoText(errno));
  }
  std::size_t written = 0;
  while (written < content.size()) {
    ssize_t n = write(fd, content.data() + written, content.size() - written);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      int err = errno;
      close(fd);
      return errorf(ErrorKind::Unavailable, "write {}: {}", temporary, errnoText(err));
    }
    written += static_cast<std::size_t>(n);
  }
  if (fsync(fd) != 0) {
    int err = errno;
    close(fd);
    return errorf(ErrorKind::Unavailable, "fsync {}: {}", temporary, errnoText(err));
  }
  close(fd);
  if (rename(temporary.c_str(), path.c_str()) != 0) {
    return errorf(ErrorKind::Unavailable, "rename {} to {}: {}", temporary, path,
                  errnoText(errno));
  }
  std::string directory = std::filesystem::path(path).parent_path().string();
  int dirFd = open(directory.empty() ? "." : directory.c_str(), O_RDONLY | O_DIRECTORY);
  if (dirFd >= 0) {
    fsync(dirFd);
    close(dirFd);
  }
  return {};
}

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
    readField(json, "nodeSecret", state.nodeSecret);
    readField(json, "memberSecret", state.memberSecret);
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
                         {"nodeSecret", state.nodeSecret},
                         {"memberSecret", state.memberSecret}};
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
