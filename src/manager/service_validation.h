#pragma once

// Pure validation of a service spec, before anything is read or allocated, and the
// resolution of its networks against the cluster's. Every error is InvalidArgument (or
// NotFound for an unknown network) and names the field as the CLI flag that sets it
// (`--replicas`), the value given and what would be valid.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "api/service_types.h"
#include "api/types.h"
#include "common/error.h"

namespace overmesh::manager {

inline constexpr std::int64_t kMaxReplicas = 1000;

// Everything in `spec` that needs no cluster state: name, mode, replicas, command, env,
// endpoint mode, constraints, restart policy, stop grace, health check, update config,
// labels, the shape of each network entry (target given, aliases valid DNS labels), and
// the published ports (validatePorts in published_ports.h).
Status validateServiceSpec(const api::ServiceSpec& spec);

// KEY=VALUE entries (`--env`) with valid keys (isValidEnvKey); InvalidArgument naming
// --env and the entry.
Status validateEnv(const std::vector<std::string>& env);

// An environment variable name: a letter or '_', then letters, digits or '_'.
bool isValidEnvKey(std::string_view key);

// A DNS label: 1-63 letters, digits and '-', not starting or ending with '-'.
bool isDnsLabel(std::string_view label);
// A container hostname: dot-separated DNS labels (isDnsLabel), e.g. "db" or
// "db.example.com" (Swarm accepts FQDNs), at most kMaxHostname bytes.
bool isHostName(std::string_view name);
// The kernel's limit on a hostname (sethostname(2) fails with EINVAL beyond it): a longer
// DNS name would be accepted here and fail every task at start.
inline constexpr std::size_t kMaxHostname = 64;
// A network alias: dot-separated labels of letters, digits, '-' and '_' (Docker accepts
// compose keys such as "my_db" or "web.v2" as aliases; the embedded DNS matches whole names).
bool isAliasName(std::string_view name);

// A label key (service and node labels): 1-128 characters, letters, digits, '.', '_',
// '-' and '/', starting with a letter or digit. `flag` names it in the error.
Status validateLabelKey(std::string_view flag, const std::string& key);

// The service's networks resolved against `networks` (by ID, name or unique ID prefix), in
// the order given. NotFound for an unknown network; InvalidArgument when one is not an
// overlay, is the ingress network, or is given twice.
Result<std::vector<api::ServiceAttachment>> resolveServiceNetworks(
    const std::vector<api::ServiceNetworkSpec>& requested,
    const std::vector<api::Network>& networks);

}  // namespace overmesh::manager
