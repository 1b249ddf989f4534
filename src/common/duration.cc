#include "common/duration.h"

#include <algorithm>
#include <string_view>

namespace overmesh {
namespace {

__extension__ using Int128 = __int128;  // a number times a unit in ns, before the bound

constexpr std::int64_t kNsPerMs = 1'000'000;

// Nanoseconds per unit (Go's time.ParseDuration units), or 0 for a unit we do not know.
std::int64_t unitNs(std::string_view unit) {
  if (unit == "ns") {
    return 1;
  }
  if (unit == "us" || unit == "\u00b5s" || unit == "\u03bcs") {  // micro sign, Greek mu
    return 1'000;
  }
  if (unit == "ms") {
    return kNsPerMs;
  }
  if (unit == "s") {
    return 1'000 * kNsPerMs;
  }
  if (unit == "m") {
    return 60'000 * kNsPerMs;
  }
  if (unit == "h") {
    return 3'600'000 * kNsPerMs;
  }
  return 0;
}

bool isDurationDigit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

Result<std::chrono::milliseconds> parseDuration(const std::string& text,
                                                const std::string& flag) {
  return parseDuration(text, flag, kMaxDurationMs);
}

Result<std::chrono::milliseconds> parseDuration(const std::string& text, const std::string& flag,
                                                std::int64_t maxMs) {
  maxMs = std::clamp<std::int64_t>(maxMs, 0, kMaxLongDurationMs);
  // maxMs <= 1e13, so the bound in ns (<= 1e19) needs the 128-bit type.
  const Int128 maxNs = Int128(maxMs) * kNsPerMs;
  auto invalid = [&] {
    return errorf(ErrorKind::InvalidArgument,
                  "{} \"{}\" is not a duration: use numbers with units h, m, s, ms, us or ns, "
                  "e.g. 500ms, 3s or 2m (or 1m30s, 1.5s), at most {}ms",
                  flag, text, maxMs);
  };
  if (text == "0") {
    return std::chrono::milliseconds(0);
  }
  if (text.empty()) {
    return invalid();
  }
  Int128 total = 0;  // nanoseconds
  std::size_t i = 0;
  while (i < text.size()) {
    // NUMBER: digits, optionally "." and more digits; at least one digit in all.
    Int128 whole = 0;
    std::size_t digits = 0;
    for (; i < text.size() && isDurationDigit(text[i]); ++i, ++digits) {
      whole = whole * 10 + (text[i] - '0');
      if (whole > maxNs) {
        return invalid();  // more than the bound even in ns: stop before it overflows
      }
    }
    Int128 fraction = 0;
    Int128 fractionScale = 1;
    if (i < text.size() && text[i] == '.') {
      ++i;
      for (; i < text.size() && isDurationDigit(text[i]); ++i, ++digits) {
        // Digits past the 18th are below a nanosecond of any unit: they change nothing.
        if (fractionScale < 1'000'000'000'000'000'000) {
          fraction = fraction * 10 + (text[i] - '0');
          fractionScale *= 10;
        }
      }
    }
    if (digits == 0) {
      return invalid();
    }
    std::size_t unitStart = i;
    while (i < text.size() && !isDurationDigit(text[i]) && text[i] != '.') {
      ++i;
    }
    std::int64_t scale = unitNs(std::string_view(text).substr(unitStart, i - unitStart));
    if (scale == 0) {
      return invalid();
    }
    // whole <= 1e19 and scale <= 3.6e12; fraction < 1e18: both products fit in 128 bits.
    total += whole * scale + fraction * scale / fractionScale;
    if (total > maxNs) {
      return invalid();
    }
  }
  // Rounded to the nearest millisecond: what every caller stores.
  return std::chrono::milliseconds(static_cast<std::int64_t>((total + kNsPerMs / 2) / kNsPerMs));
}

}  // namespace overmesh
