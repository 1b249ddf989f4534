#include "common/quote.h"

#include <fmt/format.h>

namespace overmesh {
namespace {

void appendEscaped(std::string& out, unsigned char c, bool quote) {
  if (quote && (c == '"' || c == '\\')) {
    out.push_back('\\');
    out.push_back(static_cast<char>(c));
    return;
  }
  switch (c) {
    case '\n':
      out += "\\n";
      return;
    case '\t':
      out += "\\t";
      return;
    case '\r':
      out += "\\r";
      return;
    default:
      break;
  }
  if (c >= 0x20 && c < 0x7f) {
    out.push_back(static_cast<char>(c));
  } else {
    out += fmt::format("\\x{:02x}", c);
  }
}

std::string escapeBounded(std::string_view value, std::size_t maxBytes, bool quote) {
  std::string out;
  std::size_t shown = value.size() < maxBytes ? value.size() : maxBytes;
  out.reserve(shown + 16);
  if (quote) {
    out.push_back('"');
  }
  for (std::size_t i = 0; i < shown; ++i) {
    appendEscaped(out, static_cast<unsigned char>(value[i]), quote);
  }
  if (quote) {
    out.push_back('"');
  }
  if (shown < value.size()) {
    out += fmt::format("…({} bytes)", value.size());
  }
  return out;
}

}  // namespace

std::string quote(std::string_view value, std::size_t maxBytes) {
  return escapeBounded(value, maxBytes, true);
}

std::string printable(std::string_view text, std::size_t maxBytes) {
  return escapeBounded(text, maxBytes, false);
}

}  // namespace overmesh
