#pragma once

// Services as the API and the Store carry them (JSON, lowerCamelCase, unknown fields
// ignored on read). A Service is the user's spec plus what the manager decided for it
// (its ID, its virtual IPs, the networks its references resolved to, its spec version).
// Durations are whole milliseconds.

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "api/container_types.h"
#include "api/types.h"

namespace overmesh::api {

// A network the service joins, as the user named it (name or ID), with extra DNS names.
struct ServiceNetworkSpec {
  std::string target;
  std::vector<std::string> aliases;
};

struct RestartPolicy {
  std::string condition = "any";  // "any" | "on-failure" | "none"
  std::int64_t delayMs = 5000;
  std::int64_t maxAttempts = 0;  // 0 = no limit
  std::int64_t windowMs = 0;     // 0 = attempts count over the service's whole life
};

struct UpdateConfig {
  std::int64_t parallelism = 1;  // 0 = all at once
  std::int64_t delayMs = 0;
  std::string order = "stop-first";  // "stop-first" | "start-first"
};

// One published port (`--publish published=P,target=T,protocol=tcp,mode=ingress`, or
// `P:T/udp`). In a spec, publishedPort 0 means "allocate one" (30000-32767); in
// Service::ports it is the port every node (ingress mode) or every node running a
// replica (host mode) opens.
struct PortConfig {
  std::string protocol = "tcp";        // "tcp" | "udp"
  std::int64_t targetPort = 0;         // the task's port, 1-65535 (validated by the manager)
  std::int64_t publishedPort = 0;      // the nodes' port; 0 = allocate (spec only)
  std::string publishMode = "ingress"; // "ingress" | "host"
  auto operator<=>(const PortConfig&) const = default;
};

struct ServiceSpec {
  std::string name;
  std::string mode = "replicated";  // "replicated" | "global"
  std::int64_t replicas = 1;        // replicated only
  std::vector<std::string> command;
  std::vector<std::string> env;  // KEY=VALUE
  std::vector<ServiceNetworkSpec> networks;
  std::string endpointMode = "vip";  // "vip" | "dnsrr"
  std::vector<std::string> constraints;  // "node.hostname==h1", "node.labels.zone!=b"…
  RestartPolicy restartPolicy;
  std::int64_t stopGracePeriodMs = 10000;
  std::optional<HealthCheck> healthCheck;
  UpdateConfig updateConfig;
  Labels labels;
  std::vector<PortConfig> ports;  // as the user gave them; see Service::ports
  // The image and its options (issue 10); an empty image: `command` runs as a process.
  // With an image, `command` may be empty (the image's CMD is used).
  ContainerSpec container;
};

// A network the service is attached to, resolved: its ID and name, the DNS aliases.
struct ServiceAttachment {
  std::string networkId;
  std::string networkName;
  std::vector<std::string> aliases;
};

// The service's virtual IP on one network (vip endpoint mode only).
struct ServiceVip {
  std::string networkId;
  std::string address;  // "10.0.0.2/24": inside the network's subnet, never a task's
};

struct Service {
  std::string id;
  // Increases with every `service update` that changes what the tasks run (command, env,
  // networks, constraints, health check, stop grace); tasks record the version they run,
  // and tasks of an older version are replaced by the rolling update.
  std::int64_t version = 1;
  // Increases with every successful write of the spec: 1 at create, +1 on every update,
  // even one that changes only replicas or the update config. An update names the index it
  // was read at, so two updates read at one index cannot both go through (see
  // ServiceUpdateRequest). `version` alone cannot do this: it stays put on a scale.
  std::int64_t updateIndex = 1;
  ServiceSpec spec;
  std::vector<ServiceAttachment> attachments;  // spec.networks resolved, same order
  std::vector<ServiceVip> vips;                // one per attachment when endpointMode is vip
  // spec.ports with every published port decided (allocated when the spec left it 0), in
  // spec order: what the nodes open. Tasks of a service with an ingress-mode port also get
  // an attachment to the ingress network (after the spec's networks), which is not in
  // `attachments`: DNS answers no names and the VIP balancer has no VIP there.
  std::vector<PortConfig> ports;
  // Why the orchestrator cannot place a task, when it cannot (e.g. "no suitable node
  // (constraint node.labels.zone==a matches none of 3 ready nodes)"); empty otherwise.
  std::string placementProblem;
  std::string createdAt;
  std::string updatedAt;
};

// POST /v1/services/{ref}/update: the whole new spec, as `service inspect` showed it, and
// the service's updateIndex it was read at (a Conflict when the service changed meanwhile).
// "updateIndex" is required on the wire: an update that does not say what it was read at
// could silently overwrite a concurrent one.
struct ServiceUpdateRequest {
  ServiceSpec spec;
  std::int64_t updateIndex = 0;
  // Replace every task even when the spec did not change (`service update --force`).
  bool force = false;
};

void to_json(nlohmann::json& json, const ServiceNetworkSpec& value);
void from_json(const nlohmann::json& json, ServiceNetworkSpec& value);
void to_json(nlohmann::json& json, const RestartPolicy& value);
void from_json(const nlohmann::json& json, RestartPolicy& value);
void to_json(nlohmann::json& json, const UpdateConfig& value);
void from_json(const nlohmann::json& json, UpdateConfig& value);
void to_json(nlohmann::json& json, const PortConfig& value);
void from_json(const nlohmann::json& json, PortConfig& value);
void to_json(nlohmann::json& json, const ServiceSpec& value);
void from_json(const nlohmann::json& json, ServiceSpec& value);
void to_json(nlohmann::json& json, const ServiceAttachment& value);
void from_json(const nlohmann::json& json, ServiceAttachment& value);
void to_json(nlohmann::json& json, const ServiceVip& value);
void from_json(const nlohmann::json& json, ServiceVip& value);
void to_json(nlohmann::json& json, const Service& value);
void from_json(const nlohmann::json& json, Service& value);
void to_json(nlohmann::json& json, const ServiceUpdateRequest& value);
void from_json(const nlohmann::json& json, ServiceUpdateRequest& value);

}  // namespace overmesh::api
