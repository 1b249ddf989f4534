#pragma once

// Merging several compose files (`-c a.yml -c b.yml`), compose's override rules (issue 11):
// mappings merge key by key, recursively; a scalar or a null in the later file replaces;
// for a service:
//   - `environment`, `labels`, `deploy.labels`, `extra_hosts` (list or map forms, mixed):
//     merged by key, the later value wins;
//   - `ports`: concatenated; an entry equal to one already present is not repeated;
//   - `volumes`: merged by target path (the later entry for a target replaces it);
//   - `networks`: merged by network key (list or map forms, mixed);
//   - `command`, `entrypoint`, `healthcheck.test`, `dns`, and other sequences: replaced;
//   - `expose`, `env_file`: concatenated without duplicates.
// Top-level `networks`, `volumes` and extension `x-*` keys merge as mappings. `version`
// takes the later file's value when it has one. Pure; the result keeps each value's mark.

#include <vector>

#include "common/error.h"
#include "compose/value.h"

namespace overmesh::compose {

// InvalidArgument when two files disagree on a value's form in a way that cannot be
// merged (a mapping over a sequence), naming both files, lines and the key path.
Result<Value> mergeFiles(std::vector<Value> files);

}  // namespace overmesh::compose
