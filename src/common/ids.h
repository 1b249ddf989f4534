#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace overmesh {

// A random 25-character lower-case base-32 object ID (125 bits from getrandom), as
// DESIGN.md specifies; shown shortened to 12 characters in tables.
std::string newObjectId();

// A random secret of `bytes` bytes, hex-encoded (join tokens, node credentials).
std::string newSecret(std::size_t bytes);

// The first 12 characters of an ID, as tables show it.
std::string shortId(const std::string& id);

// The current wall-clock time as RFC 3339 UTC with seconds ("2026-11-24T14:27:00Z").
std::string nowRfc3339();
// Wall-clock milliseconds since the epoch (task state times in records).
std::int64_t nowMillis();

}  // namespace overmesh
