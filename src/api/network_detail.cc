#include "api/network_detail.h"

#include "common/json.h"

namespace overmesh::api {

using nlohmann::json;

void to_json(json& j, const NetworkServiceEntry& v) {
  j = json{{"id", v.id},
           {"name", v.name},
           {"endpointMode", v.endpointMode},
           {"vip", v.vip},
           {"aliases", v.aliases}};
}

void from_json(const json& j, NetworkServiceEntry& v) {
  readField(j, "id", v.id);
  readField(j, "name", v.name);
  readField(j, "endpointMode", v.endpointMode);
  readField(j, "vip", v.vip);
  readField(j, "aliases", v.aliases);
}

void to_json(json& j, const NetworkEndpoint& v) {
  j = json{{"taskId", v.taskId},       {"taskName", v.taskName},
           {"address", v.address},     {"mac", v.mac},
           {"nodeId", v.nodeId},       {"nodeName", v.nodeName},
           {"serviceId", v.serviceId}, {"serviceName", v.serviceName}};
}

void from_json(const json& j, NetworkEndpoint& v) {
  readField(j, "taskId", v.taskId);
  readField(j, "taskName", v.taskName);
  readField(j, "address", v.address);
  readField(j, "mac", v.mac);
  readField(j, "nodeId", v.nodeId);
  readField(j, "nodeName", v.nodeName);
  readField(j, "serviceId", v.serviceId);
  readField(j, "serviceName", v.serviceName);
}

void to_json(json& j, const NetworkDetail& v) {
  j = v.network;
  j["services"] = v.services;
  j["endpoints"] = v.endpoints;
}

void from_json(const json& j, NetworkDetail& v) {
  from_json(j, v.network);
  readField(j, "services", v.services);
  readField(j, "endpoints", v.endpoints);
}

}  // namespace overmesh::api
