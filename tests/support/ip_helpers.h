#pragma once

// Address literals for test bodies: ip("10.0.15.2"), prefix("10.0.15.0/24"). A typo throws
// (std::bad_expected_access), which gtest reports as the test's failure, instead of
// carrying an empty address into the code under test.

#include <string_view>

#include "common/ip.h"

namespace overmesh::testing {

inline Ipv4Address ip(std::string_view text) { return Ipv4Address::parse(text).value(); }

inline Ipv4Prefix prefix(std::string_view text) { return Ipv4Prefix::parse(text).value(); }

}  // namespace overmesh::testing
