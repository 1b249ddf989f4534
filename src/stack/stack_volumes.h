#pragma once

// The volume half of stack conversion (convert.h): a service's compose `volumes:` as the
// mounts a container task gets. Pure.

#include <string>
#include <vector>

#include "api/container_types.h"
#include "common/error.h"
#include "compose/project.h"

namespace overmesh::stack {

// Each entry of `service.volumes` as an api::Mount, in order:
//   - bind: a relative source is resolved against service.directory (itself against
//     workingDirectory when relative), "." and ".." are
//     resolved and repeated '/' collapsed; "~" and "~/…" are expanded with
//     `homeDirectory` as Docker does (refused when it is "" or not absolute);
//   - volume: a named source becomes "<stack>_<name>", or the declaration's `name:` (or
//     the key when external); no source = anonymous (the schema has refused an
//     undeclared name);
//   - tmpfs: refused (not supported yet).
// A relative service.directory is taken relative to `workingDirectory` (absolute, or "").
Result<std::vector<api::Mount>> convertVolumes(const compose::Service& service,
                                               const compose::Project& project,
                                               const std::string& stack,
                                               const std::string& workingDirectory,
                                               const std::string& homeDirectory);

// `path` with "." and ".." segments resolved and repeated '/' collapsed, lexically (no
// filesystem access); ".." above "/" stays at "/". `path` must be absolute.
std::string normaliseAbsolutePath(const std::string& path);

}  // namespace overmesh::stack
