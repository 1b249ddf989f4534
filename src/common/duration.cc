#include "common/duration.h"

#include <charconv>
#include <string_view>

namespace overmesh {
namespace {

// Milliseconds per unit, or 0 for a unit we do not accept.
std::int64_t unitScale(std::string_view unit) {
  if (unit == "ms") {
    return 1;
  }
  if (unit == "s") {
    return 1000;
  }
  if (unit == "m") {
    return 60'000;
  }
  if (unit == "h") {
    return 3'600'000;
  }
  return 0;
}

}  // namespace

Result<std::chrono::milliseconds> parseDuration(const std::string& text,
                                                const std::string& flag) {
  auto invalid = [&] {
    return errorf(ErrorKind::InvalidArgument,
                  "{} \"{}\" is not a duration: use whole numbers with units h, m, s or ms, "
                  "e.g. 500ms, 3s or 2m (or 1m30s), at most {}ms",
                  flag, text, kMaxDurationMs);
  };
  if (text == "0") {
    return std::chrono::milliseconds(0);
  }
  std::int64_t total = 0;
  const char* position = text.data();
  const char* end = text.data() + text.size();
  if (position == end) {
    return invalid();
  }
  while (position != end) {
    std::int64_t number = 0;
    auto [rest, error] = std::from_chars(position, end, number);
    // from_chars accepts a leading '-'; a duration never has one.
    if (error != std::errc() || rest == position || *position == '-' || number > kMaxDurationMs) {
      return invalid();
    }
    const char* unitEnd = rest;
    while (unitEnd != end && *unitEnd >= 'a' && *unitEnd <= 'z') {
      ++unitEnd;
    }
    std::int64_t scale =
        unitScale(std::string_view(rest, static_cast<std::size_t>(unitEnd - rest)));
    // number <= kMaxDurationMs and scale <= 3.6e6: the product fits in 63 bits.
    if (scale == 0 || number * scale > kMaxDurationMs - total) {
      return invalid();
    }
    total += number * scale;
    position = unitEnd;
  }
  return std::chrono::milliseconds(total);
}

}  // namespace overmesh
