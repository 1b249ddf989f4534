#include "api/stack_types.h"

#include "common/json.h"

namespace overmesh::api {

using nlohmann::json;

bool inStack(const Labels& labels, std::string_view stack) {
  auto label = labels.find(kStackNamespaceLabel);
  return label != labels.end() && label->second == stack;
}

void to_json(json& j, const StackNetwork& v) {
  j = json{{"key", v.key},
           {"name", v.name},
           {"external", v.external},
           {"create", v.create},
           {"source", v.source}};
}

void from_json(const json& j, StackNetwork& v) {
  readField(j, "key", v.key);
  readField(j, "name", v.name);
  readField(j, "external", v.external);
  readField(j, "create", v.create);
  readField(j, "source", v.source);
}

void to_json(json& j, const StackDeployRequest& v) {
  j = json{{"stack", v.stack},
           {"networks", v.networks},
           {"services", v.services},
           {"serviceSources", v.serviceSources},
           {"prune", v.prune},
           {"resolveImage", v.resolveImage}};
}

void from_json(const json& j, StackDeployRequest& v) {
  readField(j, "stack", v.stack);
  readField(j, "networks", v.networks);
  readField(j, "services", v.services);
  readField(j, "serviceSources", v.serviceSources);
  readField(j, "prune", v.prune);
  readField(j, "resolveImage", v.resolveImage);
}

void to_json(json& j, const StackDeployReply& v) {
  j = json{{"networksCreated", v.networksCreated},
           {"servicesCreated", v.servicesCreated},
           {"servicesUpdated", v.servicesUpdated},
           {"servicesUnchanged", v.servicesUnchanged},
           {"servicesRemoved", v.servicesRemoved},
           {"warnings", v.warnings}};
}

void from_json(const json& j, StackDeployReply& v) {
  readField(j, "networksCreated", v.networksCreated);
  readField(j, "servicesCreated", v.servicesCreated);
  readField(j, "servicesUpdated", v.servicesUpdated);
  readField(j, "servicesUnchanged", v.servicesUnchanged);
  readField(j, "servicesRemoved", v.servicesRemoved);
  readField(j, "warnings", v.warnings);
}

void to_json(json& j, const StackSummary& v) {
  j = json{{"name", v.name}, {"services", v.services}, {"networks", v.networks}};
}

void from_json(const json& j, StackSummary& v) {
  readField(j, "name", v.name);
  readField(j, "services", v.services);
  readField(j, "networks", v.networks);
}

void to_json(json& j, const StackRemoveReply& v) {
  j = json{{"servicesRemoved", v.servicesRemoved},
           {"networksRemoved", v.networksRemoved},
           {"errors", v.errors}};
}

void from_json(const json& j, StackRemoveReply& v) {
  readField(j, "servicesRemoved", v.servicesRemoved);
  readField(j, "networksRemoved", v.networksRemoved);
  readField(j, "errors", v.errors);
}

}  // namespace overmesh::api
