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
// Fails when a key is given twice, or is neither declared at the top level nor
// "default" (naming the service, the key and the declared keys).
Result<std::vector<compose::ServiceNetworkEntry>> serviceNetworkEntries(
    const compose::Service& service, const compose::Project& project);

// One StackNetwork per key in `usedKeys` (in that order): "<stack>_<key>", the `name:`,
// or the key/`name:` when external; "<stack>_default" for an undeclared default. Fails on
// a driver other than overlay, more than one subnet, a name that is not a valid network
// name, or two keys that end up with one name.
Result<std::vector<api::StackNetwork>> convertNetworks(const compose::Project& project,
                                                       const std::string& stack,
                                                       const std::vector<std::string>& usedKeys);

// A valid object name (services, networks): 1-63 letters, digits, '_', '.', '-' starting
// with a letter or digit (the manager's rule, kept here so that a deploy fails before it
// is sent).
bool isValidObjectName(const std::string& name);

}  // namespace overmesh::stack
