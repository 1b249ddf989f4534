#include "daemon/known_managers.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <sstream>

#include "common/atomic_file.h"
#include "common/json.h"

namespace overmesh::daemon {
namespace {

std::string knownManagersPath(const std::string& stateDir) { return stateDir + "/managers.json"; }

// The file is ours, but bounded anyway: a list longer than this is not a manager list.
constexpr std::size_t kMaxFileBytes = 64 * 1024;

}  // namespace

Result<std::optional<KnownManagers>> loadKnownManagers(const std::string& stateDir) {
  std::ifstream file(knownManagersPath(stateDir));
  if (!file) {
    return std::optional<KnownManagers>();
  }
  std::stringstream content;
  content << file.rdbuf();
  if (content.str().size() > kMaxFileBytes) {
    return errorf(ErrorKind::Internal, "{} holds {} bytes, more than a manager list ({} at most)",
                  knownManagersPath(stateDir), content.str().size(), kMaxFileBytes);
  }
  KnownManagers known;
  auto read = decodeFields(content.str(), knownManagersPath(stateDir),
                           [&known](const nlohmann::json& json) {
                             requireField(json, "nodeId", known.nodeId);
                             readField(json, "managers", known.managers);
                             readField(json, "leader", known.leader);
                           });
  if (!read) {
    return errorf(ErrorKind::Internal, "{} is corrupt ({})", knownManagersPath(stateDir),
                  read.error().message);
  }
  return std::optional<KnownManagers>(std::move(known));
}

Status saveKnownManagers(const std::string& stateDir, const KnownManagers& known) {
  nlohmann::json json = {
      {"nodeId", known.nodeId}, {"managers", known.managers}, {"leader", known.leader}};
  return writeFileAtomically(knownManagersPath(stateDir), dumpJson(json, 2), 0600);
}

Status removeKnownManagers(const std::string& stateDir) {
  if (unlink(knownManagersPath(stateDir).c_str()) != 0 && errno != ENOENT) {
    return errorf(ErrorKind::Unavailable, "unlink {}: {}", knownManagersPath(stateDir),
                  errnoText(errno));
  }
  return {};
}

std::vector<std::string> startingManagers(const std::string& joinedManager,
                                          const std::optional<KnownManagers>& known,
                                          const std::string& nodeId) {
  std::vector<std::string> addresses;
  auto add = [&addresses](const std::string& address) {
    if (!address.empty() &&
        std::find(addresses.begin(), addresses.end(), address) == addresses.end()) {
      addresses.push_back(address);
    }
  };
  if (known && known->nodeId == nodeId) {
    add(known->leader);
    for (const auto& address : known->managers) {
      add(address);
    }
  }
  add(joinedManager);
  return addresses;
}

}  // namespace overmesh::daemon
