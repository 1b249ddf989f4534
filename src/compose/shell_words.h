#pragma once

// Splitting a compose `command:` / `entrypoint:` string into words, as compose does
// (a POSIX shell's quoting without any expansion): words are separated by blanks
// (space, tab, newline); 'single quotes' keep everything literally; "double quotes" keep
// everything but a backslash before $ ` " \ or a newline; outside quotes a backslash
// keeps the next character (a backslash-newline joins lines). `$VAR`, globs and `~` stay
// as written: interpolation already ran, and the container's argv gets the text.

#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace overmesh::compose {

// The words of `text`. Fails (InvalidArgument, a message without location: the caller
// adds it) on an unterminated quote or a trailing backslash. "" → no words.
Result<std::vector<std::string>> splitShellWords(std::string_view text);

}  // namespace overmesh::compose
