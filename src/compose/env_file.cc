#include "compose/env_file.h"

#include "common/quote.h"
#include "compose/utf8.h"

namespace overmesh::compose {

Result<StringMap> parseEnvFile(std::string_view text, const Environment& environment) {
  constexpr std::string_view kByteOrderMark = "\xEF\xBB\xBF";
  if (text.starts_with(kByteOrderMark)) {
    text.remove_prefix(kByteOrderMark.size());
  }
  StringMap variables;
  std::size_t lineNumber = 0;
  while (!text.empty()) {
    ++lineNumber;
    std::size_t newline = text.find('\n');
    std::string_view line = text.substr(0, newline);
    text.remove_prefix(newline == std::string_view::npos ? text.size() : newline + 1);
    if (line.ends_with('\r')) {
      line.remove_suffix(1);
    }
    // The values end up in JSON requests, which hold UTF-8 text only.
    if (firstInvalidUtf8(line) != std::string_view::npos) {
      return errorf(ErrorKind::InvalidArgument,
                    "line {}: invalid UTF-8 (or a NUL byte): an env file is UTF-8 text",
                    lineNumber);
    }
    std::size_t first = line.find_first_not_of(" \t");
    if (first == std::string_view::npos || line[first] == '#') {
      continue;
    }
    line.remove_prefix(first);
    std::size_t equals = line.find('=');
    std::string_view key = line.substr(0, equals);
    if (key.empty()) {
      return errorf(ErrorKind::InvalidArgument, "line {}: {} has no variable name", lineNumber,
                    quote(line));
    }
    if (key.find_first_of(" \t") != std::string_view::npos) {
      return errorf(ErrorKind::InvalidArgument,
                    "line {}: the variable name {} contains blanks: write KEY=VALUE with a "
                    "name without blanks",
                    lineNumber, quote(key));
    }
    if (equals != std::string_view::npos) {
      variables[std::string(key)] = std::string(line.substr(equals + 1));
      continue;
    }
    auto found = environment.find(std::string(key));
    if (found != environment.end()) {
      if (firstInvalidUtf8(found->second) != std::string::npos) {
        return errorf(ErrorKind::InvalidArgument,
                      "line {}: the value of {} in the environment is invalid UTF-8: "
                      "environment values are UTF-8 text",
                      lineNumber, quote(key));
      }
      variables[std::string(key)] = found->second;
    }
  }
  return variables;
}

}  // namespace overmesh::compose
