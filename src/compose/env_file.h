#pragma once

// Reading an `env_file` as Docker's CLI does for stacks: one variable per line;
// blank lines and lines whose first non-blank character is '#' are skipped; "KEY=VALUE"
// splits at the first '=' and keeps VALUE exactly (quotes are part of the value, no
// `export ` prefix, no expansion); a line "KEY" without '=' takes KEY from the deploying
// environment and is left out when the environment has no KEY. Leading blanks of a line
// are dropped; a key holding blanks is refused. A UTF-8 byte order mark is skipped.

#include <string>
#include <string_view>

#include "common/error.h"
#include "compose/compose.h"
#include "compose/project.h"

namespace overmesh::compose {

// The variables of `text`, later lines winning. Fails (InvalidArgument,
// "line N: …", without the file: the caller names it) on a key with blanks or an empty key,
// on a line that is not UTF-8 or holds a NUL byte ("line N: invalid UTF-8 …"), and on a
// "KEY" line whose value in the environment is not UTF-8.
Result<StringMap> parseEnvFile(std::string_view text, const Environment& environment);

}  // namespace overmesh::compose
