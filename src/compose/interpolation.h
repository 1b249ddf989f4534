#pragma once

// Variable interpolation in compose values (issue 11): `$VAR`, `${VAR}`, `${VAR:-default}`
// (unset or empty → default), `${VAR-default}` (unset → default), `${VAR:?err}` (unset or
// empty → error), `${VAR?err}` (unset → error), and `$$` for a literal `$`. A default or
// error text is itself interpolated when it is used (`${A:-${B:-x}}`, `${TAG:-$DEFAULT}`,
// `${A:?need $B}`), nested at most 10 deep. Applied to every scalar (not to keys) of the
// top-level sections services, networks, volumes, secrets and configs (not `version`,
// `name` or top-level `x-*`), before files are merged, as docker/cli does. An unset
// variable without a default becomes "" and adds the warning
//   The "VAR" variable is not set. Defaulting to a blank string.
// Errors (InvalidArgument) name the file, line and key path: an invalid `${…}` form, or a
// `:?`/`?` variable that is missing ("required variable TAG is missing a value: <err>").
// The result of a substitution is not interpolated again. Bounded: a value grows to at
// most LoadLimits::maxScalarBytes.

#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "compose/compose.h"
#include "compose/value.h"

namespace overmesh::compose {

// Whether a top-level key's values are interpolated (services, networks, volumes,
// secrets, configs).
bool isInterpolatedSection(std::string_view key);

Status interpolate(Value& root, const Environment& environment, Warnings& warnings,
                   const LoadLimits& limits = {});

}  // namespace overmesh::compose
