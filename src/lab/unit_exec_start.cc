// ExecStart= of a systemd unit, read the way systemd reads the simple case (see
// unit_exec_start.h for what is supported and why the rest is refused).

#include "lab/unit_exec_start.h"

#include <fmt/format.h>

#include <cerrno>
#include <fstream>
#include <optional>
#include <sstream>

namespace overmesh::lab {
namespace {

constexpr const char* kSupported =
    "the lab supports ExecStart=/absolute/path ARG... with words separated by whitespace and "
    "\"double quotes\" (no prefixes - @ : + !, no $VAR or % specifiers, no single quotes, no "
    "backslashes outside double quotes, one command on one line)";

bool isBlank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string_view trim(std::string_view text) {
  while (!text.empty() && isBlank(text.front())) {
    text.remove_prefix(1);
  }
  while (!text.empty() && isBlank(text.back())) {
    text.remove_suffix(1);
  }
  return text;
}

Error refused(const std::string& where, std::string_view value, const std::string& problem) {
  return Error{ErrorKind::InvalidArgument,
               fmt::format("{}: ExecStart={}: {}; {}", where, value, problem, kSupported)};
}

// One logical line of the unit: its text and the number of its first physical line.
struct UnitLine {
  std::string text;
  int number = 0;
  bool continued = false;  // it was joined from lines ending in a backslash
};

// The unit's lines with systemd's continuation (a trailing backslash joins the next line).
std::vector<UnitLine> logicalLines(std::string_view text) {
  std::vector<UnitLine> lines;
  std::optional<UnitLine> open;
  int number = 0;
  std::istringstream stream{std::string(text)};
  for (std::string physical; std::getline(stream, physical);) {
    ++number;
    std::string_view trimmed = trim(physical);
    if (!open) {
      open = UnitLine{"", number, false};
    } else {
      open->continued = true;
      // systemd skips comment lines inside a continued value.
      if (!trimmed.empty() && (trimmed.front() == '#' || trimmed.front() == ';')) {
        continue;
      }
    }
    if (!trimmed.empty() && trimmed.back() == '\\') {
      open->text += std::string(trimmed.substr(0, trimmed.size() - 1)) + " ";
      continue;
    }
    open->text += std::string(trimmed);
    lines.push_back(std::move(*open));
    open.reset();
  }
  if (open) {
    lines.push_back(std::move(*open));
  }
  return lines;
}

}  // namespace

Result<std::vector<std::string>> splitExecStart(std::string_view value, const std::string& where) {
  value = trim(value);
  if (value.empty()) {
    return std::unexpected(refused(where, value, "there is no command"));
  }
  if (std::string_view("-@:+!").find(value.front()) != std::string_view::npos) {
    return std::unexpected(refused(
        where, value,
        fmt::format("the prefix '{}' (systemd's special executable prefixes) is not supported",
                    value.front())));
  }
  // systemd expands both anywhere, inside double quotes too.
  if (value.find('$') != std::string_view::npos) {
    return std::unexpected(
        refused(where, value, "$ (environment variable expansion) is not supported"));
  }
  if (value.find('%') != std::string_view::npos) {
    return std::unexpected(refused(where, value, "% (unit specifiers) is not supported"));
  }
  std::vector<std::string> words;
  std::string word;
  bool inWord = false;
  for (std::size_t i = 0; i < value.size(); ++i) {
    char c = value[i];
    if (isBlank(c)) {
      if (inWord) {
        words.push_back(std::move(word));
        word.clear();
        inWord = false;
      }
      continue;
    }
    inWord = true;
    if (c == '"') {
      std::size_t j = i + 1;
      for (; j < value.size() && value[j] != '"'; ++j) {
        if (value[j] == '\\') {
          if (j + 1 >= value.size() || (value[j + 1] != '"' && value[j + 1] != '\\')) {
            return std::unexpected(refused(
                where, value, "inside double quotes only \\\" and \\\\ are supported escapes"));
          }
          ++j;
        }
        word.push_back(value[j]);
      }
      if (j >= value.size()) {
        return std::unexpected(refused(where, value, "a double quote is not closed"));
      }
      i = j;
      continue;
    }
    if (c == '\'') {
      return std::unexpected(refused(where, value, "single quotes are not supported"));
    }
    if (c == '\\') {
      return std::unexpected(
          refused(where, value, "a backslash outside double quotes is not supported"));
    }
    word.push_back(c);
  }
  if (inWord) {
    words.push_back(std::move(word));
  }
  for (const auto& each : words) {
    if (each == ";") {
      return std::unexpected(
          refused(where, value, "several commands separated by ';' are not supported"));
    }
  }
  if (words.front().empty() || words.front().front() != '/') {
    return std::unexpected(refused(
        where, value, fmt::format("the program \"{}\" is not an absolute path", words.front())));
  }
  return words;
}

Result<std::vector<std::string>> unitExecStart(std::string_view unitText,
                                               const std::string& unitPath) {
  std::string section;
  std::optional<UnitLine> found;
  for (const UnitLine& line : logicalLines(unitText)) {
    std::string_view text = trim(line.text);
    if (text.empty() || text.front() == '#' || text.front() == ';') {
      continue;
    }
    if (text.front() == '[') {
      section = std::string(text);
      continue;
    }
    auto equals = text.find('=');
    if (section != "[Service]" || equals == std::string_view::npos ||
        trim(text.substr(0, equals)) != "ExecStart") {
      continue;
    }
    std::string where = fmt::format("{}:{}", unitPath, line.number);
    std::string_view value = trim(text.substr(equals + 1));
    if (value.empty()) {
      found.reset();  // systemd: an empty assignment clears the commands before it
      continue;
    }
    if (line.continued) {
      return std::unexpected(
          refused(where, value, "the command continues over several lines (a trailing \\)"));
    }
    if (found) {
      return errorf(ErrorKind::InvalidArgument,
                    "{}: a second ExecStart= (the first is on line {}): the lab runs one "
                    "command, as systemd does for Type=simple; {}",
                    where, found->number, kSupported);
    }
    found = UnitLine{std::string(value), line.number, false};
  }
  if (!found) {
    return errorf(ErrorKind::InvalidArgument,
                  "{} has no ExecStart= in its [Service] section: nothing to run; {}", unitPath,
                  kSupported);
  }
  return splitExecStart(found->text, fmt::format("{}:{}", unitPath, found->number));
}

Result<std::vector<std::string>> readUnitExecStart(const std::string& unitPath) {
  std::ifstream file(unitPath, std::ios::binary);
  if (!file) {
    return errorf(ErrorKind::NotFound, "cannot read the unit {}: {}", unitPath, errnoText(errno));
  }
  std::stringstream content;
  content << file.rdbuf();
  return unitExecStart(content.str(), unitPath);
}

}  // namespace overmesh::lab
