#pragma once

// The network half of stack conversion (convert.h): which network keys each service
// joins, and the StackNetwork each used key becomes, named the Docker way. Pure.

#include <string>
#include <vector>

#include "api/stack_types.h"
#include "common/error.h"
#include "compose/project.h"

namespace overmesh::stack {

// A service's network entries as conversion uses them: the written ones, or the single
// key "default" when the service has no `networks:` or an empty one (Docker's rule).
// The schema (compose/) has already refused a key given twice and a key that is neither
// declared at the top level nor "default", so this cannot fail.
std::vector<compose::ServiceNetworkEntry> serviceNetworkEntries(const compose::Service& service);

// One StackNetwork per key in `usedKeys` (in that order): "<stack>_<key>", the `name:`,
// or the key/`name:` when external; "<stack>_default" for an undeclared default. Fails on
// a driver other than overlay, more than one subnet, a name that is not a valid network
// name (common/object_name.h), or two keys that end up with one name (naming both keys and
// where they were declared).
Result<std::vector<api::StackNetwork>> convertNetworks(const compose::Project& project,
                                                       const std::string& stack,
                                                       const std::vector<std::string>& usedKeys);

}  // namespace overmesh::stack
