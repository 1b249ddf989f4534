#pragma once

#include <chrono>
#include <string>

#include "common/error.h"

namespace overmesh::cli {

// Parses "500ms", "3s", "2m" (an integer and a unit). Fails naming `flag`, the value and
// the accepted forms.
Result<std::chrono::milliseconds> parseDuration(const std::string& text, const std::string& flag);

}  // namespace overmesh::cli
