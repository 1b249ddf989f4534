#pragma once

// What `network inspect` shows (GET /v1/networks/{ref}): the network's own fields,
// exactly as api::Network carries them (so a client that decodes a Network keeps
// working), plus, like Docker's `network inspect -v`, the services attached to it with
// their VIPs and the endpoints (task addresses) on it.

#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "api/types.h"

namespace overmesh::api {

struct NetworkServiceEntry {
  std::string id;
  std::string name;
  std::string endpointMode;  // "vip" | "dnsrr"
  std::string vip;           // "10.0.0.2/24"; empty in dnsrr mode
  std::vector<std::string> aliases;
};

struct NetworkEndpoint {
  std::string taskId;
  std::string taskName;
  std::string address;  // "10.0.0.3/24"
  std::string mac;
  std::string nodeId;
  std::string nodeName;
  std::string serviceId;  // empty for a standalone task
  std::string serviceName;
};

struct NetworkDetail {
  Network network;
  std::vector<NetworkServiceEntry> services;  // ordered by name
  std::vector<NetworkEndpoint> endpoints;     // ordered by task name
};

void to_json(nlohmann::json& json, const NetworkServiceEntry& value);
void from_json(const nlohmann::json& json, NetworkServiceEntry& value);
void to_json(nlohmann::json& json, const NetworkEndpoint& value);
void from_json(const nlohmann::json& json, NetworkEndpoint& value);
// The network's fields at the top level, then "services" and "endpoints".
void to_json(nlohmann::json& json, const NetworkDetail& value);
void from_json(const nlohmann::json& json, NetworkDetail& value);

}  // namespace overmesh::api
