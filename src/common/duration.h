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
// The same with another bound, for durations longer than kMaxDurationMs (`--cert-expiry`
// up to 5 years): at most `maxMs` (which must be at most kMaxLongDurationMs).
Result<std::chrono::milliseconds> parseDuration(const std::string& text, const std::string& flag,
                                                std::int64_t maxMs);

// The largest duration parseDuration accepts (about 11.6 days): bounds the sums.
inline constexpr std::int64_t kMaxDurationMs = 1'000'000'000;
// The largest bound the three-argument form takes (about 317 years).
inline constexpr std::int64_t kMaxLongDurationMs = 10'000'000'000'000;

}  // namespace overmesh
