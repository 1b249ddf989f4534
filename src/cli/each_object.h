#pragma once

// `inspect` and `rm` of several objects by name or ID, the same for every kind: each
// reference is asked of the daemon at its own path, and the ones that fail are reported
// together at the end after the others were done (Docker's behaviour).

#include <functional>
#include <string>
#include <vector>

#include "cli/cli_context.h"
#include "common/error.h"

namespace overmesh::cli {

// The API path of the object `reference` names, e.g. "/v1/networks/web%2F".
using ObjectPath = std::function<std::string(const std::string& reference)>;

// Prints the found objects as one JSON array; NotFound naming the missing ones.
Status inspectEach(CliContext& context, const std::vector<std::string>& references,
                   const ObjectPath& pathOf);

// Deletes each object and prints its reference; FailedPrecondition listing the failures.
Status removeEach(CliContext& context, const std::vector<std::string>& references,
                  const ObjectPath& pathOf);

}  // namespace overmesh::cli
