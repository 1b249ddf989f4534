#pragma once

// How conversion errors name where the problem was written: "<file>:<line>: <key path>:
// <what is wrong>: <what is valid>", the shape buildProject (compose/project_builder.h)
// uses, so that every stack error reads alike. A value the program made (line 0) has no
// "<file>:<line>: " prefix.

#include <fmt/format.h>

#include <string>

#include "common/error.h"
#include "common/quote.h"
#include "compose/value.h"

namespace overmesh::stack {

inline std::string locationPrefix(const compose::Mark& mark) {
  if (mark.line <= 0) {
    return {};
  }
  return fmt::format("{}:{}: ", printable(mark.file), mark.line);
}

// InvalidArgument "<file>:<line>: <path>: <message>".
template <typename... Args>
std::unexpected<Error> convertError(const compose::Mark& mark, const std::string& path,
                                    fmt::format_string<Args...> format, Args&&... args) {
  return makeError(ErrorKind::InvalidArgument,
                   fmt::format("{}{}: {}", locationPrefix(mark), path,
                               fmt::format(format, std::forward<Args>(args)...)));
}

}  // namespace overmesh::stack
