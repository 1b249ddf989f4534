#pragma once

// The registries.conf (containers-registries.conf(5), v2 TOML) that a node's podman reads
// for the cluster's registry settings (swarm init/update --insecure-registry,
// --registry-mirror): each insecure registry as a [[registry]] with insecure = true (plain
// HTTP, no TLS check), the mirrors as [[registry.mirror]] entries of docker.io (tried in
// order before docker.io itself; insecure = true for an http:// mirror), and docker.io as
// the only search registry for short names (as Docker resolves them).
//
// Pure. The values were validated on the manager, but a node reads them from the cluster
// state: this is a trust boundary too, so anything that could break the TOML (quotes,
// backslashes, control characters, spaces) is refused here rather than escaped.

#include <string>
#include <string_view>

#include "api/container_types.h"
#include "common/error.h"

namespace overmesh::runtime::podman {

// The file's text for `settings` (no settings: only the search registry). Fails with
// InvalidArgument naming the field and the value when an insecure registry is not
// HOST[:PORT] or a mirror is not http[s]://HOST[:PORT][/PATH].
Result<std::string> registriesConf(const api::RegistrySettings& settings);

}  // namespace overmesh::runtime::podman
