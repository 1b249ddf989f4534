#pragma once

// What a task runs when it runs an OCI image (issue 10), as the API and the Store carry it
// (JSON "container" in a ServiceSpec, a Task and a `run` request), and the cluster's
// registry settings. An empty `image` means a process task: the command runs on the
// node's own filesystem (ProcessRuntime) and the other fields must be empty.

#include <map>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace overmesh::api {

// `--mount type=bind|volume,source=…,target=…[,readonly]`. A volume's source is a name
// local to the node (created by podman on first use); empty = an anonymous volume.
struct Mount {
  std::string type = "volume";  // "bind" | "volume"
  std::string source;           // bind: an absolute path on the node; volume: a name
  std::string target;           // an absolute path inside the container
  bool readOnly = false;
  auto operator<=>(const Mount&) const = default;
};

struct ContainerSpec {
  // In a request: as the user typed it ("web", "web:1", "198.18.0.101:5000/web@sha256:…").
  // In a Service or Task: normalised by the manager (common/image_reference.h), and pinned
  // to its digest at `service create`/`update` unless resolution was skipped or failed:
  // "docker.io/library/web:1@sha256:<64 hex>".
  std::string image;
  std::vector<std::string> entrypoint;  // non-empty: replaces the image's ENTRYPOINT
  std::string workdir;                  // "" = the image's; else an absolute path
  std::string user;                     // "" = the image's; "USER[:GROUP]", names or ids
  std::vector<Mount> mounts;
  bool readOnly = false;   // the container's root filesystem is mounted read-only
  bool init = false;       // an init (catatonit) runs as PID 1 and reaps orphans
  std::string stopSignal;  // "" = the image's STOPSIGNAL, else SIGTERM; "SIGxxx" form
  // Issue 11 (compose `hostname`, `labels`); both apply to process tasks too.
  std::string hostname;  // "" = the task's name; else a valid DNS label (≤ 63 characters)
  std::map<std::string, std::string> labels;  // container labels (podman labels)
  auto operator<=>(const ContainerSpec&) const = default;
};

// The first option of `spec` that only an image task can have, as the user's flag names
// it ("--entrypoint", "--workdir", "--user", "--mount", "--read-only", "--init",
// "--stop-signal"); empty when none is set. The CLI and the manager refuse such options
// without --image, naming this flag.
std::string_view firstImageOnlyFlag(const ContainerSpec& spec);

// Cluster-wide registry settings (`swarm init|update --insecure-registry HOST:PORT
// --registry-mirror URL`), stored under state::keys::kRegistries where every agent sees
// them: each node's podman and the manager's digest resolution use them.
struct RegistrySettings {
  std::vector<std::string> insecureRegistries;  // "HOST[:PORT]": plain HTTP, no TLS check
  std::vector<std::string> registryMirrors;     // "http[s]://HOST[:PORT]": for docker.io
  auto operator<=>(const RegistrySettings&) const = default;
};

// POST /v1/swarm/update: each field given replaces the cluster's list (an empty list
// clears it); a field left out keeps it.
struct SwarmUpdateRequest {
  std::optional<std::vector<std::string>> insecureRegistries;
  std::optional<std::vector<std::string>> registryMirrors;
  // `--cert-expiry`: validity of node certificates signed from now on (security/pki.h
  // bounds); nodes whose certificate runs longer renew at once.
  std::optional<std::int64_t> certExpiryMs;
};

void to_json(nlohmann::json& json, const Mount& value);
void from_json(const nlohmann::json& json, Mount& value);
void to_json(nlohmann::json& json, const ContainerSpec& value);
void from_json(const nlohmann::json& json, ContainerSpec& value);
void to_json(nlohmann::json& json, const RegistrySettings& value);
void from_json(const nlohmann::json& json, RegistrySettings& value);
void to_json(nlohmann::json& json, const SwarmUpdateRequest& value);
void from_json(const nlohmann::json& json, SwarmUpdateRequest& value);

}  // namespace overmesh::api
