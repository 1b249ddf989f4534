#pragma once

#include <string>
#include <string_view>

namespace overmesh {

// SHA-256 of `secret`, hex-encoded: the manager keeps only hashes of node credentials,
// so a copy of its store does not let anyone impersonate a node.
std::string hashSecret(std::string_view secret);

// Compares two strings in time independent of where they differ (credential checks).
bool constantTimeEquals(std::string_view a, std::string_view b);

}  // namespace overmesh
