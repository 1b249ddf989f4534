#pragma once

// A compose file (or several, merged) after interpolation and the schema: the typed model
// that stack conversion (stack/convert.h) turns into networks and services. Everything
// here was checked by buildProject (project_builder.h): types, ranges and enumerations, so
// conversion only decides names and defaults. Values the file did not give stay unset
// (std::optional / empty) so that conversion can apply Docker's defaults and tell "absent"
// from "given as the default".
//
// Durations are whole milliseconds (compose writes Go durations: "1m30s", "500ms").

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "compose/value.h"

namespace overmesh::compose {

using StringMap = std::map<std::string, std::string>;

// `ports:` one entry, short ("8080:80/udp", "80", "127.0.0.1:8080:80") or long syntax.
// A short-syntax range ("8000-8001:80-81") is expanded into one PortEntry per port.
struct PortEntry {
  std::int64_t target = 0;
  std::int64_t published = 0;      // 0 = not published by the file (Swarm allocates one)
  std::string protocol = "tcp";    // "tcp" | "udp"
  std::string mode = "ingress";    // "ingress" | "host"
  std::string hostIp;              // short syntax "IP:P:T"; Swarm cannot honour it
  Mark mark;
};

// `volumes:` of a service, short ("data:/var/lib/x:ro", "./site:/usr/share/html") or long.
struct VolumeEntry {
  std::string type;    // "bind" | "volume" | "tmpfs" (short syntax: bind when the source
                       // starts with '/', '.' or '~'; volume with a name; volume without
                       // a source when only a target is given)
  std::string source;  // as written (relative bind paths are resolved by conversion)
  std::string target;
  bool readOnly = false;
  Mark mark;
};

// A service's `networks:` entry (list form: only the key; map form: aliases too).
struct ServiceNetworkEntry {
  std::string key;  // the key of a top-level `networks:` entry (or "default")
  std::vector<std::string> aliases;
  Mark mark;
};

struct Healthcheck {
  bool disable = false;             // `disable: true` or test ["NONE"]
  std::vector<std::string> test;    // ["CMD", …] | ["CMD-SHELL", "…"]; a string → CMD-SHELL
  std::optional<std::int64_t> intervalMs, timeoutMs, startPeriodMs;
  std::optional<std::int64_t> retries;
  Mark mark;
};

struct RestartPolicyEntry {  // deploy.restart_policy
  std::optional<std::string> condition;  // "none" | "on-failure" | "any"
  std::optional<std::int64_t> delayMs, maxAttempts, windowMs;
};

struct UpdateConfigEntry {  // deploy.update_config
  std::optional<std::int64_t> parallelism, delayMs;
  std::optional<std::string> order;  // "stop-first" | "start-first"
};

struct Deploy {
  std::optional<std::string> mode;  // "replicated" | "global"
  std::optional<std::int64_t> replicas;
  std::optional<std::string> endpointMode;  // "vip" | "dnsrr"
  std::vector<std::string> constraints;     // placement.constraints, as written
  std::optional<RestartPolicyEntry> restartPolicy;
  std::optional<UpdateConfigEntry> updateConfig;
  StringMap labels;                         // deploy.labels: the service's labels
  Mark mark;
};

struct Service {
  std::string key;  // the key under `services:`
  std::string image;
  // command/entrypoint: a string is split as a shell would (compose's rule: quotes, no
  // expansion); nullopt = not given (the image's own is used).
  std::optional<std::vector<std::string>> command;
  std::optional<std::vector<std::string>> entrypoint;
  // `environment` (list "K=V" / "K", or map) merged over every `env_file` (in order), as
  // compose does: a key of `environment` wins. A list item "K" without '=' (or a map
  // entry with a null value) takes K from the deploying environment; absent there, the
  // key is left out. env_file paths are read by the loader (compose.h), relative to the
  // working directory: the first -c file's directory (compose.h's workingDirectory()).
  StringMap environment;
  std::string workingDir;
  std::string user;
  std::string hostname;
  // nullopt: no `networks:` key (the service joins "default"); a present but empty list
  // is kept as empty.
  std::optional<std::vector<ServiceNetworkEntry>> networks;
  std::vector<PortEntry> ports;
  std::optional<Healthcheck> healthcheck;
  std::optional<std::int64_t> stopGracePeriodMs;
  std::string stopSignal;
  std::optional<bool> init;
  std::optional<bool> readOnly;  // `read_only`
  std::vector<VolumeEntry> volumes;
  StringMap labels;  // the service-level `labels`: container labels
  // `restart:` ("no" | "always" | "on-failure[:N]" | "unless-stopped"), kept although
  // Swarm ignores it: it feeds the restart policy when deploy.restart_policy is absent.
  std::string restart;
  std::optional<Deploy> deploy;
  // The base of relative bind sources: the working directory, i.e. the first -c file's
  // directory whichever file declared the service, as docker/cli resolves them.
  std::string directory;
  Mark mark;
};

// A top-level `networks:` entry.
struct NetworkEntry {
  std::string key;
  std::string name;         // `name:` (or the legacy `external: {name: X}`); "" = not given
  bool external = false;
  std::string driver;       // "" = not given (overlay)
  StringMap driverOpts;
  std::optional<bool> attachable;
  std::optional<bool> internal;
  StringMap labels;
  std::vector<std::string> subnets;  // ipam.config[].subnet, as written
  Mark mark;
};

// A top-level `volumes:` entry (named volumes local to each node).
struct VolumeDeclaration {
  std::string key;
  std::string name;  // `name:`; "" = not given
  bool external = false;
  Mark mark;
};

struct Project {
  std::string version;  // "3.8", "3", or "" (the Compose Specification)
  std::vector<Service> services;       // in file order
  std::vector<NetworkEntry> networks;  // in file order
  std::vector<VolumeDeclaration> volumes;
};

}  // namespace overmesh::compose
