#include "api/container_types.h"

#include "common/json.h"

namespace overmesh::api {

using nlohmann::json;

std::string_view firstImageOnlyFlag(const ContainerSpec& spec) {
  if (!spec.entrypoint.empty()) {
    return "--entrypoint";
  }
  if (!spec.workdir.empty()) {
    return "--workdir";
  }
  if (!spec.user.empty()) {
    return "--user";
  }
  if (!spec.mounts.empty()) {
    return "--mount";
  }
  if (spec.readOnly) {
    return "--read-only";
  }
  if (spec.init) {
    return "--init";
  }
  if (!spec.stopSignal.empty()) {
    return "--stop-signal";
  }
  return {};
}

void to_json(json& j, const Mount& v) {
  j = json{{"type", v.type}, {"source", v.source}, {"target", v.target}, {"readOnly", v.readOnly}};
}

void from_json(const json& j, Mount& v) {
  readField(j, "type", v.type);
  readField(j, "source", v.source);
  readField(j, "target", v.target);
  readField(j, "readOnly", v.readOnly);
}

void to_json(json& j, const ContainerSpec& v) {
  j = json{{"image", v.image}, {"entrypoint", v.entrypoint}, {"workdir", v.workdir},
           {"user", v.user},   {"mounts", v.mounts},         {"readOnly", v.readOnly},
           {"init", v.init},   {"stopSignal", v.stopSignal}, {"hostname", v.hostname},
           {"labels", v.labels}};
}

void from_json(const json& j, ContainerSpec& v) {
  readField(j, "image", v.image);
  readField(j, "entrypoint", v.entrypoint);
  readField(j, "workdir", v.workdir);
  readField(j, "user", v.user);
  readField(j, "mounts", v.mounts);
  readField(j, "readOnly", v.readOnly);
  readField(j, "init", v.init);
  readField(j, "stopSignal", v.stopSignal);
  readField(j, "hostname", v.hostname);
  readField(j, "labels", v.labels);
}

void to_json(json& j, const RegistrySettings& v) {
  j = json{{"insecureRegistries", v.insecureRegistries}, {"registryMirrors", v.registryMirrors}};
}

void from_json(const json& j, RegistrySettings& v) {
  readField(j, "insecureRegistries", v.insecureRegistries);
  readField(j, "registryMirrors", v.registryMirrors);
}

void to_json(json& j, const SwarmUpdateRequest& v) {
  j = json::object();
  if (v.insecureRegistries) {
    j["insecureRegistries"] = *v.insecureRegistries;
  }
  if (v.registryMirrors) {
    j["registryMirrors"] = *v.registryMirrors;
  }
  if (v.certExpiryMs) {
    j["certExpiryMs"] = *v.certExpiryMs;
  }
}

void from_json(const json& j, SwarmUpdateRequest& v) {
  readField(j, "insecureRegistries", v.insecureRegistries);
  readField(j, "registryMirrors", v.registryMirrors);
  readField(j, "certExpiryMs", v.certExpiryMs);
}

}  // namespace overmesh::api
