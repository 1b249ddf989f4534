#pragma once

// Docker's rule for the names of cluster objects (services, networks, tasks, stacks), in
// one place so that the CLI's conversion (stack/) and the manager refuse the same names.

#include <cstddef>
#include <string_view>

namespace overmesh {

// At most this many characters: names derive kernel device and DNS names, which must stay
// short.
inline constexpr std::size_t kMaxObjectName = 63;

// True for 1 to kMaxObjectName ASCII letters, digits, '_', '.' and '-', starting with a
// letter or digit.
bool isValidObjectName(std::string_view name);

}  // namespace overmesh
