#pragma once

// Merging several compose files (`-c a.yml -c b.yml`), compose's override rules (issue 11),
// as docker/cli's merge does. Mappings merge key by key, recursively; a scalar or a null in
// the later file replaces. The exceptions, by key path:
//   - top-level `networks`, `volumes`, `secrets`, `configs`: an entry of the later file
//     REPLACES the earlier entry with that key whole (an override `default: {external:
//     true}` over `default: {driver: overlay}` is just the external entry); new keys are
//     added. `services` merge service by service, as below. `version` takes the later
//     file's value when it has one; `name` and `x-*` keys merge as any mapping.
//   - in a service:
//     - `environment`, `labels`, `deploy.labels`, `extra_hosts` (list or map forms,
//       mixed): merged by key, the later value wins;
//     - `networks`: merged by network key (list or map forms, mixed; a network's mapping
//       merges with the earlier one);
//     - `ports`: an entry with a published port replaces the earlier entry with the same
//       published port and protocol ("8080:80" then "8080:81" → one port 8080:81, in the
//       earlier entry's place); entries without a published port are appended unless an
//       equal entry is present;
//     - `volumes`: merged by target path (the later entry for a target replaces it);
//     - `expose`, `env_file`, `dns`, `dns_search`, `cap_add`, `cap_drop`,
//       `external_links`, `security_opt`, `devices`, `deploy.placement.constraints`,
//       `deploy.placement.preferences`: the later entries appended, except those equal to
//       an entry already present (a single string counts as a list of one);
//     - `command`, `entrypoint`, `healthcheck.test` and every other list: replaced.
// Pure; the result keeps each value's mark. Linear in the size of the files: keys are
// looked up through a hash index while a mapping is merged.

#include <vector>

#include "common/error.h"
#include "compose/value.h"

namespace overmesh::compose {

// InvalidArgument when two files disagree on a value's form in a way that cannot be
// merged (a mapping over a sequence), naming both files, lines and the key path.
Result<Value> mergeFiles(std::vector<Value> files);

}  // namespace overmesh::compose
