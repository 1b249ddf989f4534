#pragma once

// Stacks (issue 11) as the API carries them. The CLI loads the compose files and converts
// them (stack/convert.h) into a StackDeployRequest: the networks the stack declares (with
// Docker's names already decided) and the services' specs (named <stack>_<key>, labelled
// com.docker.stack.namespace=<stack>). The manager (manager/stack_manager.h) checks the
// whole request against the cluster before it writes anything, then writes it.
//
// A stack has no record of its own: like Docker, a stack is the set of services and
// networks carrying its namespace label.

#include <cstdint>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "api/service_types.h"
#include "api/types.h"

namespace overmesh::api {

// The label Docker puts on every object of a stack.
inline constexpr const char* kStackNamespaceLabel = "com.docker.stack.namespace";
// The label on a stack's services that records the image as the file wrote it.
inline constexpr const char* kStackImageLabel = "com.docker.stack.image";

// One network a stack's services use, as the file declared it, named the Docker way:
// "<stack>_<key>" without `name:`, the `name:` otherwise, the key itself (or `name:`) when
// external; "<stack>_default" when the file declares no `default` and a service uses it.
struct StackNetwork {
  std::string key;        // the key in the file ("default" for the implicit one)
  std::string name;       // the cluster network's name
  bool external = false;  // refers to an existing network; `create` is then unused
  // What to create when it does not exist (not external): its labels include
  // com.docker.stack.namespace=<stack>; options are the file's driver_opts.
  NetworkCreateRequest create;
  std::string source;  // "web.yml:14" where it was declared ("" for the implicit default)
};

struct StackDeployRequest {
  std::string stack;
  std::vector<StackNetwork> networks;  // only those some service uses
  // Complete specs: names "<stack>_<key>", networks referring to StackNetwork::name with
  // the alias <key>, labels and container labels including the namespace label.
  std::vector<ServiceSpec> services;
  // Where each service was declared, by service name: "web.yml:12: services.web". The
  // manager prefixes its own refusals of a service with it, so that an error found only
  // on the manager still names the file, the line and the key.
  std::map<std::string, std::string> serviceSources;
  bool prune = false;                 // remove the stack's services not in `services`
  std::string resolveImage = "always";  // "always" | "changed" | "never"
};

// What a deploy did, in the order it was done; the CLI prints Docker's lines from it:
//   Creating network web_default
//   Creating service web_web
//   Updating service web_api (id: 5f1c…)
//   Removing service web_old           (--prune)
struct StackDeployReply {
  std::vector<std::string> networksCreated;      // names
  std::vector<std::string> servicesCreated;      // names
  std::vector<Service> servicesUpdated;          // as written
  std::vector<std::string> servicesUnchanged;    // names: nothing written
  std::vector<std::string> servicesRemoved;      // names (--prune)
  std::vector<std::string> warnings;             // e.g. an image that could not be pinned
};

// GET /v1/stacks: one row of `stack ls`.
struct StackSummary {
  std::string name;
  std::int64_t services = 0;
  std::int64_t networks = 0;
};

// POST /v1/stacks/{name}/remove: what was removed, in order (services first, then the
// networks carrying the stack's label, never an external one), and what could not be.
struct StackRemoveReply {
  std::vector<std::string> servicesRemoved;
  std::vector<std::string> networksRemoved;
  std::vector<std::string> errors;  // "Failed to remove network web_default: …"
};

// True when `labels` put the object in `stack` (the namespace label equals it).
bool inStack(const Labels& labels, std::string_view stack);

void to_json(nlohmann::json& json, const StackNetwork& value);
void from_json(const nlohmann::json& json, StackNetwork& value);
void to_json(nlohmann::json& json, const StackDeployRequest& value);
void from_json(const nlohmann::json& json, StackDeployRequest& value);
void to_json(nlohmann::json& json, const StackDeployReply& value);
void from_json(const nlohmann::json& json, StackDeployReply& value);
void to_json(nlohmann::json& json, const StackSummary& value);
void from_json(const nlohmann::json& json, StackSummary& value);
void to_json(nlohmann::json& json, const StackRemoveReply& value);
void from_json(const nlohmann::json& json, StackRemoveReply& value);

}  // namespace overmesh::api
