#include "api/service_types.h"

#include "common/json.h"

namespace overmesh::api {

using nlohmann::json;

void to_json(json& j, const ServiceNetworkSpec& v) {
  j = json{{"target", v.target}, {"aliases", v.aliases}};
}

void from_json(const json& j, ServiceNetworkSpec& v) {
  readField(j, "target", v.target);
  readField(j, "aliases", v.aliases);
}

void to_json(json& j, const RestartPolicy& v) {
  j = json{{"condition", v.condition},
           {"delayMs", v.delayMs},
           {"maxAttempts", v.maxAttempts},
           {"windowMs", v.windowMs}};
}

void from_json(const json& j, RestartPolicy& v) {
  readField(j, "condition", v.condition);
  readField(j, "delayMs", v.delayMs);
  readField(j, "maxAttempts", v.maxAttempts);
  readField(j, "windowMs", v.windowMs);
}

void to_json(json& j, const UpdateConfig& v) {
  j = json{{"parallelism", v.parallelism}, {"delayMs", v.delayMs}, {"order", v.order}};
}

void from_json(const json& j, UpdateConfig& v) {
  readField(j, "parallelism", v.parallelism);
  readField(j, "delayMs", v.delayMs);
  readField(j, "order", v.order);
}

void to_json(json& j, const PortConfig& v) {
  j = json{{"protocol", v.protocol},
           {"targetPort", v.targetPort},
           {"publishedPort", v.publishedPort},
           {"publishMode", v.publishMode}};
}

void from_json(const json& j, PortConfig& v) {
  readField(j, "protocol", v.protocol);
  readField(j, "targetPort", v.targetPort);
  readField(j, "publishedPort", v.publishedPort);
  readField(j, "publishMode", v.publishMode);
}

void to_json(json& j, const ServiceSpec& v) {
  j = json{{"name", v.name},
           {"mode", v.mode},
           {"replicas", v.replicas},
           {"command", v.command},
           {"env", v.env},
           {"networks", v.networks},
           {"endpointMode", v.endpointMode},
           {"constraints", v.constraints},
           {"restartPolicy", v.restartPolicy},
           {"stopGracePeriodMs", v.stopGracePeriodMs},
           {"updateConfig", v.updateConfig},
           {"labels", v.labels},
           {"ports", v.ports},
           {"container", v.container}};
  if (v.healthCheck) {
    j["healthCheck"] = *v.healthCheck;
  }
}

void from_json(const json& j, ServiceSpec& v) {
  readField(j, "name", v.name);
  readField(j, "mode", v.mode);
  readField(j, "replicas", v.replicas);
  readField(j, "command", v.command);
  readField(j, "env", v.env);
  readField(j, "container", v.container);
  readField(j, "networks", v.networks);
  readField(j, "endpointMode", v.endpointMode);
  readField(j, "constraints", v.constraints);
  readField(j, "restartPolicy", v.restartPolicy);
  readField(j, "stopGracePeriodMs", v.stopGracePeriodMs);
  readField(j, "healthCheck", v.healthCheck);
  readField(j, "updateConfig", v.updateConfig);
  readField(j, "labels", v.labels);
  readField(j, "ports", v.ports);
}

void to_json(json& j, const ServiceAttachment& v) {
  j = json{{"networkId", v.networkId}, {"networkName", v.networkName}, {"aliases", v.aliases}};
}

void from_json(const json& j, ServiceAttachment& v) {
  readField(j, "networkId", v.networkId);
  readField(j, "networkName", v.networkName);
  readField(j, "aliases", v.aliases);
}

void to_json(json& j, const ServiceVip& v) {
  j = json{{"networkId", v.networkId}, {"address", v.address}};
}

void from_json(const json& j, ServiceVip& v) {
  readField(j, "networkId", v.networkId);
  readField(j, "address", v.address);
}

void to_json(json& j, const Service& v) {
  j = json{{"id", v.id},
           {"version", v.version},
           {"updateIndex", v.updateIndex},
           {"spec", v.spec},
           {"attachments", v.attachments},
           {"vips", v.vips},
           {"ports", v.ports},
           {"placementProblem", v.placementProblem},
           {"createdAt", v.createdAt},
           {"updatedAt", v.updatedAt}};
}

void from_json(const json& j, Service& v) {
  readField(j, "id", v.id);
  readField(j, "version", v.version);
  readField(j, "updateIndex", v.updateIndex);
  readField(j, "spec", v.spec);
  readField(j, "attachments", v.attachments);
  readField(j, "vips", v.vips);
  readField(j, "ports", v.ports);
  readField(j, "placementProblem", v.placementProblem);
  readField(j, "createdAt", v.createdAt);
  readField(j, "updatedAt", v.updatedAt);
}

void to_json(json& j, const ServiceUpdateRequest& v) {
  j = json{{"spec", v.spec}, {"updateIndex", v.updateIndex}, {"force", v.force}};
}

void from_json(const json& j, ServiceUpdateRequest& v) {
  readField(j, "spec", v.spec);
  requireField(j, "updateIndex", v.updateIndex);
  readField(j, "force", v.force);
}

}  // namespace overmesh::api
