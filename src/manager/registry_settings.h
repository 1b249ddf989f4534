#pragma once

// The cluster's registry settings (`swarm init|update --insecure-registry HOST[:PORT]
// --registry-mirror URL`): validation and normal form. Pure; ClusterManager stores the
// result under state::keys::kRegistries, where every node's podman and the manager's digest
// resolution read it.

#include <cstddef>
#include <string>
#include <string_view>

#include "api/container_types.h"
#include "common/error.h"

namespace overmesh::manager {

// More than this many entries in one list is refused: each becomes a registries.conf
// entry on every node and a candidate the resolver may try in turn.
inline constexpr std::size_t kMaxRegistryEntries = 32;

// "HOST[:PORT]" with HOST a DNS name (labels of letters, digits and '-', not starting or
// ending with '-', at most 253 characters) or a dotted-quad IPv4 address, PORT 1-65535.
// Returns it lower-cased with the port without leading zeros. InvalidArgument naming
// --insecure-registry, the value and what would be valid (a scheme, a path, an IPv6
// address, an empty text are refused).
Result<std::string> normaliseInsecureRegistry(std::string_view text);

// "http://HOST[:PORT]" or "https://HOST[:PORT]", an optional trailing '/', no path, query
// or credentials. Returns it with scheme and host lower-cased and no trailing '/'.
// InvalidArgument naming --registry-mirror, the value and what would be valid.
Result<std::string> normaliseRegistryMirror(std::string_view text);

// Both lists normalised, duplicates (after normalisation) dropped keeping the first, at
// most kMaxRegistryEntries each. The first bad entry's error; nothing is returned then.
Result<api::RegistrySettings> normaliseRegistrySettings(const api::RegistrySettings& settings);

// `current` with each list `request` gives replaced (an empty list clears it), the lists
// it leaves out kept; the result normalised as above.
Result<api::RegistrySettings> applySwarmUpdate(const api::RegistrySettings& current,
                                               const api::SwarmUpdateRequest& request);

// The host part of a normalised mirror ("http://198.18.0.101:5000" -> "198.18.0.101:5000")
// and whether it is plain HTTP.
struct MirrorEndpoint {
  std::string host;
  bool plainHttp = false;
};
MirrorEndpoint mirrorEndpoint(std::string_view normalisedMirror);

}  // namespace overmesh::manager
