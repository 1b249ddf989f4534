#pragma once

#include <chrono>
#include <string>

#include "common/error.h"

namespace overmesh {

// Parses a Go/Docker-style duration: one or more whole numbers each followed by a unit
// (h, m, s, ms), e.g. "500ms", "3s", "2m", "1m30s", "1h"; a bare "0" is zero. At most
// kMaxDurationMs in total. Fails naming `flag`, the value and the accepted forms.
Result<std::chrono::milliseconds> parseDuration(const std::string& text, const std::string& flag);

// The largest duration parseDuration accepts (about 11.6 days): bounds the sums.
inline constexpr std::int64_t kMaxDurationMs = 1'000'000'000;

}  // namespace overmesh
