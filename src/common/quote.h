#pragma once

// quote(value): a user's (or a peer's) value made safe to put in an error message or a
// log line. Error messages echo what was wrong, but a value may be 300 MB long or hold
// bytes that are not text (and JSON serialisation of a message must never fail), so:
// the result is in double quotes, printable ASCII is kept, '"' and '\' are escaped,
// every other byte becomes \xHH (or \n, \t, \r), and at most kQuotedMax bytes of the
// value are shown, followed by "…(N bytes)" naming the value's whole length.

#include <cstddef>
#include <string>
#include <string_view>

namespace overmesh {

inline constexpr std::size_t kQuotedMax = 100;

std::string quote(std::string_view value, std::size_t maxBytes = kQuotedMax);
// (Not named "quoted": argument-dependent lookup would find std::quoted for a
// std::string argument.)

// The same escaping without the quotes (and with '"' and '\' kept as they are): for text
// that already reads as a message (an exception's what(), a path) but may carry a peer's
// bytes.
std::string printable(std::string_view text, std::size_t maxBytes = 4 * kQuotedMax);

}  // namespace overmesh
