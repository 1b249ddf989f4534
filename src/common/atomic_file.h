#pragma once

// The one way overmesh persists a file: a reader (or a node after a crash or power loss)
// sees the old content or the new one, never half of one and never an empty file.
//
// Steps: write a temporary file with a unique name in the same directory (rename is only
// atomic within one filesystem), fsync it, rename it over `path`, fsync the directory so
// that the rename itself is on disk. Every step's failure is returned as Unavailable with
// the step, the path and the errno text ("fsync /var/lib/overmesh/node.json.tmp-Ab12Cd:
// Input/output error"); on failure the temporary file is removed and `path` keeps its old
// content (or stays absent).

#include <sys/types.h>

#include <string>
#include <string_view>

#include "common/error.h"

namespace overmesh {

// Replaces `path` with `content`. The file gets permission bits `mode` exactly (the
// process's umask does not apply), so secrets can be written 0600. The directory must
// exist. Two writers of the same path do not corrupt each other: the last rename wins.
Status writeFileAtomically(const std::string& path, std::string_view content,
                           mode_t mode = 0644);

}  // namespace overmesh
