// Where everything of a lab is: namespace names, underlay addresses and file paths, all
// derived from the lab's name and run directory, so that any command finds them again.

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <string_view>

#include "lab/lab_internal.h"

namespace overmesh::lab::internal {

namespace fs = std::filesystem;

std::string labDir(const std::string& runDir, const std::string& name) {
  return (fs::path(runDir) / name).string();
}

std::string underlayNamespace(const std::string& name) { return name + "-ul"; }

std::string hostNamespace(const std::string& name, int index) {
  return fmt::format("{}-h{}", name, index);
}

Ipv4Address hostAddress(int index) {
  return Ipv4Address::fromValue(kUnderlayBase + static_cast<std::uint32_t>(index));
}

std::string clientNamespace(const std::string& name, int index) {
  return fmt::format("{}-c{}", name, index);
}

Ipv4Address clientAddress(int index) {
  return Ipv4Address::fromValue(kUnderlayBase +
                                static_cast<std::uint32_t>(kClientAddressOffset + index));
}

std::string recordPath(const std::string& runDir, const std::string& name) {
  return labDir(runDir, name) + "/lab.json";
}

std::string hostDir(const LabHost& host) {
  return fs::path(host.socketPath).parent_path().string();
}

std::string utsPinPath(const std::string& hostDir) { return hostDir + "/uts"; }

std::string resolvConfPath(const LabHost& host) { return host.stateDir + "/resolv.conf"; }

Status ensureResolvConf(const LabHost& host) {
  std::string path = resolvConfPath(host);
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) {
    if (errno == EEXIST) {
      return {};
    }
    return errorf(ErrorKind::Unavailable, "create {}: {}", path, errnoText(errno));
  }
  static constexpr std::string_view kText =
      "# overmesh lab host: no resolver. Add `nameserver 198.18.0.x` for one run in the lab.\n";
  ssize_t written = write(fd, kText.data(), kText.size());
  int err = errno;
  close(fd);
  if (written != static_cast<ssize_t>(kText.size())) {
    return errorf(ErrorKind::Unavailable, "write {}: {}", path, errnoText(err));
  }
  return {};
}

std::string absoluteRunDir(const std::string& runDir) {
  std::error_code error;
  fs::path absolute = fs::absolute(runDir.empty() ? kDefaultRunDir : runDir, error);
  return error ? runDir : absolute.lexically_normal().string();
}

LabHost describeHost(const std::string& runDir, const std::string& name, int index) {
  std::string dir = fmt::format("{}/h{}", labDir(runDir, name), index);
  LabHost host;
  host.index = index;
  host.name = fmt::format("h{}", index);
  host.namespaceName = hostNamespace(name, index);
  host.address = hostAddress(index).toString();
  host.socketPath = dir + "/overmesh.sock";
  host.stateDir = dir + "/state";
  host.logPath = dir + "/overmeshd.log";
  host.role = index == 1 ? "manager" : "worker";
  return host;
}

LabClient describeClient(const std::string& runDir, const std::string& name, int index) {
  LabClient client;
  client.index = index;
  client.name = fmt::format("c{}", index);
  client.namespaceName = clientNamespace(name, index);
  client.address = clientAddress(index).toString();
  client.dir = fmt::format("{}/c{}", labDir(runDir, name), index);
  return client;
}

namespace {

// The number after `prefix` in `candidate` (1-2 digits, not 0), or 0.
int indexAfter(std::string_view prefix, std::string_view candidate) {
  if (!candidate.starts_with(prefix) || candidate.size() == prefix.size() ||
      candidate.size() > prefix.size() + 2) {
    return 0;
  }
  int index = 0;
  for (char c : candidate.substr(prefix.size())) {
    if (c < '0' || c > '9') {
      return 0;
    }
    index = index * 10 + (c - '0');
  }
  return index;
}

// "<digits>" of 1-2 characters as a number, or 0.
int smallNumber(std::string_view text) { return indexAfter("", text); }

}  // namespace

int hostIndexOf(const std::string& name, std::string_view candidate) {
  return indexAfter(name + "-h", candidate);
}

int clientIndexOf(const std::string& name, std::string_view candidate) {
  return indexAfter(name + "-c", candidate);
}

int etcdIndexOf(const std::string& name, std::string_view candidate) {
  int index = indexAfter(name + "-etcd", candidate);
  return index <= kEtcdMembers ? index : 0;
}

Result<int> resolveEtcdMember(const std::string& name, const std::string& member) {
  std::string_view text = member;
  if (text.starts_with(name + "-")) {
    text.remove_prefix(name.size() + 1);
  }
  if (text.starts_with("etcd")) {
    text.remove_prefix(4);
  }
  int index = smallNumber(text);
  if (index < 1 || index > kEtcdMembers) {
    return errorf(ErrorKind::InvalidArgument,
                  "\"{}\" is not an etcd member of a lab: use etcd1 to etcd{} (or {}-etcd1)",
                  member, kEtcdMembers, name);
  }
  return index;
}

bool isLabNamespace(const std::string& name, std::string_view candidate) {
  if (candidate == underlayNamespace(name) || hostIndexOf(name, candidate) > 0 ||
      clientIndexOf(name, candidate) > 0 || etcdIndexOf(name, candidate) > 0) {
    return true;
  }
  // A task sandbox made by a lab host's daemon: "<lab>-h<i>-t-<task id>".
  auto dash = candidate.find('-', name.size() + 2);
  return dash != std::string_view::npos && hostIndexOf(name, candidate.substr(0, dash)) > 0;
}

Result<int> resolveHost(const std::string& name, const std::string& host) {
  std::string_view text = host;
  std::string labPrefix = name + "-";
  if (text.starts_with(labPrefix)) {
    text.remove_prefix(labPrefix.size());
  }
  if (text.starts_with("h")) {
    text.remove_prefix(1);
  }
  int index = 0;
  bool numeric = !text.empty() && text.size() <= 2 &&
                 std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (numeric) {
    index = std::stoi(std::string(text));
  }
  if (index < 1 || index > kMaxHosts) {
    return errorf(ErrorKind::InvalidArgument,
                  "\"{}\" is not a lab host: use its number (2), its name (h2) or its namespace "
                  "({}-h2)",
                  host, name);
  }
  return index;
}

Result<ExecTarget> resolveExecTarget(const std::string& name, const std::string& target) {
  std::string_view text = target;
  if (text.starts_with(name + "-c")) {
    text.remove_prefix(name.size() + 1);
  }
  for (std::string_view prefix : {"client", "c"}) {
    if (text.starts_with(prefix)) {
      // Only a number may follow: a host namespace of a lab whose name starts with "c"
      // ("cx-h2") is not a client.
      int index = smallNumber(text.substr(prefix.size()));
      if (index > kMaxClients) {
        return errorf(ErrorKind::InvalidArgument,
                      "\"{}\" is not a lab client: a lab has at most {} (c1 to c{})", target,
                      kMaxClients, kMaxClients);
      }
      if (index > 0) {
        return ExecTarget{true, index};
      }
    }
  }
  auto host = resolveHost(name, target);
  if (!host) {
    return errorf(ErrorKind::InvalidArgument,
                  "\"{}\" is not a lab host or client: use a host's number (2), name (h2) or "
                  "namespace ({}-h2), or a client's name (c1, client1) or namespace ({}-c1)",
                  target, name, name);
  }
  return ExecTarget{false, *host};
}

}  // namespace overmesh::lab::internal
