#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "common/error.h"

namespace overmesh {

// Parses a Go duration (time.ParseDuration) without a sign: one or more numbers, each
// with an optional decimal fraction and a unit (h, m, s, ms, us or µs, ns), e.g. "500ms",
// "1.5s", "1m0.5s", "2h45m", "100us", "250ns"; a bare "0" is zero. The result is rounded
// to the nearest millisecond ("250ns" → 0ms, "1.5ms" → 2ms). At most kMaxDurationMs in
// total. Fails naming `flag`, the value and the accepted forms.
Result<std::chrono::milliseconds> parseDuration(const std::string& text, const std::string& flag);

// The largest duration parseDuration accepts (about 11.6 days): bounds the sums.
inline constexpr std::int64_t kMaxDurationMs = 1'000'000'000;

}  // namespace overmesh
