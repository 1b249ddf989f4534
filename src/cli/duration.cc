#include "cli/duration.h"

#include <charconv>

namespace overmesh::cli {

Result<std::chrono::milliseconds> parseDuration(const std::string& text,
                                                const std::string& flag) {
  std::int64_t number = 0;
  const char* begin = text.data();
  const char* end = text.data() + text.size();
  auto [rest, error] = std::from_chars(begin, end, number);
  std::string unit(rest, end);
  std::int64_t scale = 0;
  if (unit == "ms") {
    scale = 1;
  } else if (unit == "s") {
    scale = 1000;
  } else if (unit == "m") {
    scale = 60'000;
  }
  if (error != std::errc() || rest == begin || scale == 0 || number < 0 ||
      number > 1'000'000'000) {
    return errorf(ErrorKind::InvalidArgument,
                  "{} \"{}\" is not a duration: use a whole number and a unit, e.g. 500ms, 3s "
                  "or 2m",
                  flag, text);
  }
  return std::chrono::milliseconds(number * scale);
}

}  // namespace overmesh::cli
