#pragma once

// Finding an object by the reference a user typed: a full ID, a name, or a unique ID
// prefix (Docker's rules, in that order).

#include <string>
#include <vector>

#include "common/error.h"

namespace overmesh::manager {

struct NamedObject {
  std::string id;
  std::string name;
};

// The index in `objects` that `reference` denotes. NotFound names the kind and the
// reference; an ambiguous prefix is InvalidArgument listing the candidates.
Result<std::size_t> findByReference(std::string_view kind, const std::vector<NamedObject>& objects,
                                    const std::string& reference);

}  // namespace overmesh::manager
