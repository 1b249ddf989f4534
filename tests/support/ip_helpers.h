#pragma once

// Address literals for test bodies: ip("10.0.15.2") aborts the test binary on a typo
// instead of carrying an empty address into the code under test.

#include <string_view>

#include "common/ip.h"

namespace overmesh::testing {

inline Ipv4Address ip(std::string_view text) { return Ipv4Address::parse(text).value(); }

}  // namespace overmesh::testing
