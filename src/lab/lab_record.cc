// The lab's files: lab.json (what `lab up` made, and the daemons' pids), read, written
// atomically and locked while a daemon is restarted; and its JSON form.

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/atomic_file.h"
#include "lab/lab_internal.h"
#include "common/json.h"

namespace overmesh::lab {
namespace internal {

namespace fs = std::filesystem;
using dataplane::kernel::UniqueFd;

std::string readFile(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  std::stringstream content;
  content << file.rdbuf();
  return content.str();
}

Result<LabRecord> readRecord(const std::string& runDir, const std::string& name) {
  std::string path = recordPath(runDir, name);
  if (!fs::exists(path)) {
    auto namespaces = labNamespaces(name);
    if (namespaces && !namespaces->empty()) {
      return errorf(ErrorKind::FailedPrecondition,
                    "lab \"{}\" has namespaces ({}) but no {}: it was not completely built or "
                    "its record was removed; run `overmesh lab down --name {}`",
                    name, fmt::join(*namespaces, ", "), path, name);
    }
    return errorf(ErrorKind::NotFound,
                  "no lab named \"{}\" (no {}); create one with `overmesh lab up --name {}`", name,
                  path, name);
  }
  try {
    auto record = nlohmann::json::parse(readFile(path)).get<LabRecord>();
    if (record.hosts.empty()) {
      return errorf(ErrorKind::FailedPrecondition, "{} lists no hosts", path);
    }
    return record;
  } catch (const nlohmann::json::exception& error) {
    return errorf(ErrorKind::FailedPrecondition,
                  "{} is damaged ({}); run `overmesh lab down --name {}` and build the lab again",
                  path, error.what(), name);
  }
}

Status writeRecord(const LabRecord& record) {
  return writeFileAtomically(recordPath(record.runDir, record.name),
                             dumpJson(nlohmann::json(record), 2) + "\n");
}

Result<RecordLock> RecordLock::acquire(const std::string& runDir, const std::string& name) {
  std::string dir = labDir(runDir, name);
  int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    return errorf(errno == ENOENT ? ErrorKind::NotFound : ErrorKind::Unavailable,
                  "open the lab directory {}: {}", dir, errnoText(errno));
  }
  UniqueFd locked(fd);
  int result = 0;
  do {
    result = flock(fd, LOCK_EX);
  } while (result != 0 && errno == EINTR);
  if (result != 0) {
    return errorf(ErrorKind::Unavailable, "lock {}: {}", dir, errnoText(errno));
  }
  return RecordLock(std::move(locked));
}

}  // namespace internal

using internal::kUnderlayBase;
using internal::kUnderlayBridge;
using internal::kUnderlayMtu;
using internal::kUnderlayPrefixLength;

void to_json(nlohmann::json& json, const LabHost& value) {
  json = nlohmann::json{{"index", value.index},
                        {"name", value.name},
                        {"namespace", value.namespaceName},
                        {"hostname", value.namespaceName},
                        {"address", value.address},
                        {"socket", value.socketPath},
                        {"stateDir", value.stateDir},
                        {"log", value.logPath},
                        {"pid", value.pid},
                        {"role", value.role},
                        {"command", value.command}};
}

void from_json(const nlohmann::json& json, LabHost& value) {
  json.at("index").get_to(value.index);
  json.at("name").get_to(value.name);
  json.at("namespace").get_to(value.namespaceName);
  json.at("address").get_to(value.address);
  json.at("socket").get_to(value.socketPath);
  value.stateDir = json.value("stateDir", "");
  value.logPath = json.value("log", "");
  json.at("pid").get_to(value.pid);
  value.role = json.value("role", "");
  // Records written before `lab up --unit` existed have no command.
  value.command = json.value("command", std::vector<std::string>{});
}

void to_json(nlohmann::json& json, const LabClient& value) {
  json = nlohmann::json{{"index", value.index},
                        {"name", value.name},
                        {"namespace", value.namespaceName},
                        {"address", value.address},
                        {"dir", value.dir}};
}

void from_json(const nlohmann::json& json, LabClient& value) {
  json.at("index").get_to(value.index);
  json.at("name").get_to(value.name);
  json.at("namespace").get_to(value.namespaceName);
  json.at("address").get_to(value.address);
  value.dir = json.value("dir", "");
}

void to_json(nlohmann::json& json, const LabRecord& value) {
  json = nlohmann::json{{"name", value.name},
                        {"runDir", value.runDir},
                        {"overmeshd", value.overmeshdPath},
                        {"unit", value.unitPath},
                        {"unitCommand", value.unitCommand},
                        {"logLevel", value.logLevel},
                        {"underlay",
                         {{"namespace", value.underlayNamespace},
                          {"bridge", kUnderlayBridge},
                          {"mtu", kUnderlayMtu},
                          {"subnet", fmt::format("{}/{}", Ipv4Address::fromValue(kUnderlayBase),
                                                 kUnderlayPrefixLength)}}},
                        {"managerAddress", value.managerAddress},
                        {"hosts", value.hosts},
                        {"clients", value.clients},
                        {"store", value.store},
                        {"etcdPath", value.etcdPath},
                        {"etcd", value.etcd}};
}

void from_json(const nlohmann::json& json, LabRecord& value) {
  json.at("name").get_to(value.name);
  value.runDir = json.value("runDir", "");
  value.overmeshdPath = json.value("overmeshd", "");
  value.unitPath = json.value("unit", "");
  value.unitCommand = json.value("unitCommand", std::vector<std::string>{});
  value.logLevel = json.value("logLevel", "info");
  value.underlayNamespace = json.at("underlay").at("namespace").get<std::string>();
  value.managerAddress = json.value("managerAddress", "");
  json.at("hosts").get_to(value.hosts);
  // Records written before clients existed have none.
  if (auto clients = json.find("clients"); clients != json.end()) {
    clients->get_to(value.clients);
  }
  // Records written before the etcd store existed have none.
  value.store = json.value("store", "sqlite");
  value.etcdPath = json.value("etcdPath", "");
  if (auto etcd = json.find("etcd"); etcd != json.end()) {
    etcd->get_to(value.etcd);
  }
}

void to_json(nlohmann::json& json, const LabEtcdMember& value) {
  json = nlohmann::json{{"index", value.index},
                        {"name", value.name},
                        {"namespace", value.namespaceName},
                        {"address", value.address},
                        {"clientEndpoint", value.clientEndpoint()},
                        {"dir", value.dir},
                        {"pid", value.pid}};
}

void from_json(const nlohmann::json& json, LabEtcdMember& value) {
  json.at("index").get_to(value.index);
  json.at("name").get_to(value.name);
  json.at("namespace").get_to(value.namespaceName);
  json.at("address").get_to(value.address);
  json.at("dir").get_to(value.dir);
  value.pid = json.value("pid", 0);
}

void to_json(nlohmann::json& json, const LabEtcdStatus& value) {
  json = value.member;
  json["alive"] = value.alive;
  json["healthy"] = value.healthy;
  json["error"] = value.error;
}

void to_json(nlohmann::json& json, const LabHostStatus& value) {
  json = value.host;
  json["daemonAlive"] = value.daemonAlive;
  json["nodeState"] = value.nodeState;
  json["nodeRole"] = value.nodeRole;
}

void to_json(nlohmann::json& json, const LabClientStatus& value) {
  json = value.client;
  json["present"] = value.present;
}

void to_json(nlohmann::json& json, const LabStatus& value) {
  json = nlohmann::json{{"name", value.name},   {"unit", value.unitPath},
                        {"hosts", value.hosts}, {"clients", value.clients},
                        {"etcd", value.etcd},   {"askedManager", value.askedManager}};
  if (!value.managerError.empty()) {
    json["managerError"] = value.managerError;
  }
}

void to_json(nlohmann::json& json, const DownReport& value) {
  json = nlohmann::json{{"namespaces", value.namespaces},
                        {"processes", value.processes},
                        {"killed", value.killed},
                        {"removedRunDir", value.removedRunDir}};
}

void to_json(nlohmann::json& json, const StopReport& value) {
  json = nlohmann::json{
      {"host", value.host}, {"wasRunning", value.wasRunning}, {"neededKill", value.neededKill}};
}

}  // namespace overmesh::lab
