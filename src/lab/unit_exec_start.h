#pragma once

// The command line of a systemd unit's ExecStart=, for `overmesh lab up --unit FILE`: a lab
// host cannot run systemd, so it runs the unit's command itself (with the per-host options
// appended, lab_daemon.cc). Only the simple case is understood, and anything else is refused
// rather than run differently from systemd:
//   - one `ExecStart=` in [Service] (an empty `ExecStart=` resets, as in systemd), on one
//     line (no trailing backslash);
//   - argv[0] an absolute path, with no prefix (`-`, `@`, `:`, `+`, `!`, `!!`);
//   - words separated by whitespace; a word may contain "double-quoted" parts, inside which
//     \" and \\ are the only escapes;
//   - no `$VAR`/`${VAR}` expansion, no `%` specifiers, no single quotes, no backslash outside
//     double quotes, no `;` between commands.
// Pure but for readUnitExecStart(), which reads the file.

#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace overmesh::lab {

// Splits ExecStart's value into words by the rules above. `where` ("FILE:LINE") starts every
// error. InvalidArgument naming the value, what is wrong in it and what is supported.
Result<std::vector<std::string>> splitExecStart(std::string_view value, const std::string& where);

// The words of the one ExecStart= in the [Service] section of `unitText` (the file
// `unitPath`, named in errors). InvalidArgument when there is none, more than one, or it
// breaks a rule above (the error names the file, the line and what is supported).
Result<std::vector<std::string>> unitExecStart(std::string_view unitText,
                                               const std::string& unitPath);

// unitExecStart() of the file `unitPath`. NotFound when the file cannot be read.
Result<std::vector<std::string>> readUnitExecStart(const std::string& unitPath);

}  // namespace overmesh::lab
