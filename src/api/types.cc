#include "api/types.h"

#include "common/json.h"

namespace overmesh::api {

using nlohmann::json;

void to_json(json& j, const Network& v) {
  j = json{{"id", v.id},         {"name", v.name},           {"driver", v.driver},
           {"subnet", v.subnet}, {"gateway", v.gateway},     {"vni", v.vni},
           {"attachable", v.attachable}, {"internal", v.internal}, {"ingress", v.ingress},
           {"labels", v.labels}, {"options", v.options},     {"createdAt", v.createdAt}};
}

void from_json(const json& j, Network& v) {
  readField(j, "id", v.id);
  readField(j, "name", v.name);
  readField(j, "driver", v.driver);
  readField(j, "subnet", v.subnet);
  readField(j, "gateway", v.gateway);
  readField(j, "vni", v.vni);
  readField(j, "attachable", v.attachable);
  readField(j, "internal", v.internal);
  readField(j, "ingress", v.ingress);
  readField(j, "labels", v.labels);
  readField(j, "options", v.options);
  readField(j, "createdAt", v.createdAt);
}

void to_json(json& j, const NetworkCreateRequest& v) {
  j = json{{"name", v.name},         {"driver", v.driver},     {"attachable", v.attachable},
           {"internal", v.internal}, {"ingress", v.ingress},   {"labels", v.labels},
           {"options", v.options}};
  if (v.subnet) {
    j["subnet"] = *v.subnet;
  }
  if (v.gateway) {
    j["gateway"] = *v.gateway;
  }
}

void from_json(const json& j, NetworkCreateRequest& v) {
  readField(j, "name", v.name);
  readField(j, "driver", v.driver);
  readField(j, "subnet", v.subnet);
  readField(j, "gateway", v.gateway);
  readField(j, "attachable", v.attachable);
  readField(j, "internal", v.internal);
  readField(j, "ingress", v.ingress);
  readField(j, "labels", v.labels);
  readField(j, "options", v.options);
}

void to_json(json& j, const Cluster& v) {
  j = json{{"id", v.id},
           {"createdAt", v.createdAt},
           {"defaultAddrPools", v.defaultAddrPools},
           {"subnetSize", v.subnetSize},
           {"nodeTimeoutMs", v.nodeTimeoutMs},
           {"managerAddress", v.managerAddress},
           {"caCertificate", v.caCertificate},
           {"caFingerprint", v.caFingerprint},
           {"certExpiryMs", v.certExpiryMs},
           {"store", v.store}};
}

void from_json(const json& j, Cluster& v) {
  readField(j, "id", v.id);
  readField(j, "createdAt", v.createdAt);
  readField(j, "defaultAddrPools", v.defaultAddrPools);
  readField(j, "subnetSize", v.subnetSize);
  readField(j, "nodeTimeoutMs", v.nodeTimeoutMs);
  readField(j, "managerAddress", v.managerAddress);
  readField(j, "caCertificate", v.caCertificate);
  readField(j, "caFingerprint", v.caFingerprint);
  readField(j, "certExpiryMs", v.certExpiryMs);
  readField(j, "store", v.store);
}

void to_json(json& j, const SwarmInitRequest& v) {
  j = json{{"advertiseAddr", v.advertiseAddr}, {"defaultAddrPools", v.defaultAddrPools}};
  if (v.defaultAddrPoolMaskLength) {
    j["defaultAddrPoolMaskLength"] = *v.defaultAddrPoolMaskLength;
  }
  if (v.nodeTimeoutMs) {
    j["nodeTimeoutMs"] = *v.nodeTimeoutMs;
  }
  if (v.certExpiryMs) {
    j["certExpiryMs"] = *v.certExpiryMs;
  }
  if (!v.ingressSubnet.empty()) {
    j["ingressSubnet"] = v.ingressSubnet;
  }
  j["registries"] = v.registries;
  if (!v.store.empty()) {
    j["store"] = v.store;
    j["storeCaFile"] = v.storeCaFile;
    j["storeCertFile"] = v.storeCertFile;
    j["storeKeyFile"] = v.storeKeyFile;
  }
}

void from_json(const json& j, SwarmInitRequest& v) {
  readField(j, "advertiseAddr", v.advertiseAddr);
  readField(j, "defaultAddrPools", v.defaultAddrPools);
  readField(j, "defaultAddrPoolMaskLength", v.defaultAddrPoolMaskLength);
  readField(j, "nodeTimeoutMs", v.nodeTimeoutMs);
  readField(j, "certExpiryMs", v.certExpiryMs);
  readField(j, "ingressSubnet", v.ingressSubnet);
  readField(j, "registries", v.registries);
  readField(j, "store", v.store);
  readField(j, "storeCaFile", v.storeCaFile);
  readField(j, "storeCertFile", v.storeCertFile);
  readField(j, "storeKeyFile", v.storeKeyFile);
}

void to_json(json& j, const Node& v) {
  j = json{{"id", v.id},       {"hostname", v.hostname}, {"address", v.address},
           {"role", v.role},   {"state", v.state},       {"labels", v.labels},
           {"createdAt", v.createdAt}};
  if (!v.underlayPrefix.empty()) {
    j["underlayPrefix"] = v.underlayPrefix;
  }
  if (!v.gatewaySubnet.empty()) {
    j["gatewaySubnet"] = v.gatewaySubnet;
  }
  if (!v.ingressAddress.empty()) {
    j["ingressAddress"] = v.ingressAddress;
  }
  if (!v.managerStatus.empty()) {
    j["managerStatus"] = v.managerStatus;
  }
}

void from_json(const json& j, Node& v) {
  readField(j, "id", v.id);
  readField(j, "hostname", v.hostname);
  readField(j, "address", v.address);
  readField(j, "role", v.role);
  readField(j, "state", v.state);
  readField(j, "labels", v.labels);
  readField(j, "createdAt", v.createdAt);
  readField(j, "underlayPrefix", v.underlayPrefix);
  readField(j, "gatewaySubnet", v.gatewaySubnet);
  readField(j, "ingressAddress", v.ingressAddress);
  readField(j, "managerStatus", v.managerStatus);
}

void to_json(json& j, const HealthCheck& v) {
  j = json{{"command", v.command},
           {"intervalMs", v.intervalMs},
           {"timeoutMs", v.timeoutMs},
           {"retries", v.retries},
           {"startPeriodMs", v.startPeriodMs}};
}

void from_json(const json& j, HealthCheck& v) {
  readField(j, "command", v.command);
  readField(j, "intervalMs", v.intervalMs);
  readField(j, "timeoutMs", v.timeoutMs);
  readField(j, "retries", v.retries);
  readField(j, "startPeriodMs", v.startPeriodMs);
}

void to_json(json& j, const TaskAttachment& v) {
  j = json{{"networkId", v.networkId},
           {"networkName", v.networkName},
           {"address", v.address},
           {"mac", v.mac}};
}

void from_json(const json& j, TaskAttachment& v) {
  readField(j, "networkId", v.networkId);
  readField(j, "networkName", v.networkName);
  readField(j, "address", v.address);
  readField(j, "mac", v.mac);
}

void to_json(json& j, const Task& v) {
  j = json{{"id", v.id},
           {"name", v.name},
           {"serviceId", v.serviceId},
           {"nodeId", v.nodeId},
           {"nodeName", v.nodeName},
           {"command", v.command},
           {"desiredState", v.desiredState},
           {"state", v.state},
           {"message", v.message},
           {"exitCode", v.exitCode},
           {"attachments", v.attachments},
           {"createdAt", v.createdAt},
           {"serviceName", v.serviceName},
           {"slot", v.slot},
           {"specVersion", v.specVersion},
           {"env", v.env},
           {"stopGracePeriodMs", v.stopGracePeriodMs},
           {"health", v.health},
           {"updatedAtMs", v.updatedAtMs},
           {"container", v.container}};
  if (v.healthCheck) {
    j["healthCheck"] = *v.healthCheck;
  }
}

void from_json(const json& j, Task& v) {
  readField(j, "id", v.id);
  readField(j, "name", v.name);
  readField(j, "serviceId", v.serviceId);
  readField(j, "nodeId", v.nodeId);
  readField(j, "nodeName", v.nodeName);
  readField(j, "command", v.command);
  readField(j, "desiredState", v.desiredState);
  readField(j, "state", v.state);
  readField(j, "message", v.message);
  readField(j, "exitCode", v.exitCode);
  readField(j, "attachments", v.attachments);
  readField(j, "createdAt", v.createdAt);
  readField(j, "serviceName", v.serviceName);
  readField(j, "slot", v.slot);
  readField(j, "specVersion", v.specVersion);
  readField(j, "env", v.env);
  readField(j, "healthCheck", v.healthCheck);
  readField(j, "stopGracePeriodMs", v.stopGracePeriodMs);
  readField(j, "health", v.health);
  readField(j, "updatedAtMs", v.updatedAtMs);
  readField(j, "container", v.container);
}

void to_json(json& j, const Info& v) {
  j = json{{"version", v.version},     {"swarm", v.swarm},
           {"nodeId", v.nodeId},       {"role", v.role},
           {"clusterId", v.clusterId}, {"managerAddress", v.managerAddress},
           {"stateDir", v.stateDir},   {"socket", v.socket}};
  if (v.registries) {
    j["registries"] = *v.registries;
  }
  if (v.underlayFilter) {
    j["underlayFilter"] = json{{"vxlanDropped", v.underlayFilter->vxlanDropped},
                               {"nodePortDropped", v.underlayFilter->nodePortDropped}};
  }
  if (!v.store.empty()) {
    j["store"] = v.store;
    j["isLeader"] = v.isLeader;
    j["leaderAddress"] = v.leaderAddress;
  }
  j["ports"] = v.ports;
  j["firewall"] = json{{"blocks", v.firewallBlocks}};
  if (!v.firewallError.empty()) {
    j["firewall"]["error"] = v.firewallError;
  }
}

void from_json(const json& j, Info& v) {
  readField(j, "version", v.version);
  readField(j, "swarm", v.swarm);
  readField(j, "nodeId", v.nodeId);
  readField(j, "role", v.role);
  readField(j, "clusterId", v.clusterId);
  readField(j, "managerAddress", v.managerAddress);
  readField(j, "stateDir", v.stateDir);
  readField(j, "socket", v.socket);
  readField(j, "store", v.store);
  readField(j, "isLeader", v.isLeader);
  readField(j, "leaderAddress", v.leaderAddress);
  if (j.contains("registries")) {
    RegistrySettings registries;
    readField(j, "registries", registries);
    v.registries = std::move(registries);
  }
  readField(j, "ports", v.ports);
  if (auto firewall = j.find("firewall"); firewall != j.end() && firewall->is_object()) {
    readField(*firewall, "blocks", v.firewallBlocks);
    readField(*firewall, "error", v.firewallError);
  }
  if (j.contains("underlayFilter")) {
    UnderlayFilterStatus filter;
    readField(j["underlayFilter"], "vxlanDropped", filter.vxlanDropped);
    readField(j["underlayFilter"], "nodePortDropped", filter.nodePortDropped);
    v.underlayFilter = filter;
  }
}

}  // namespace overmesh::api
