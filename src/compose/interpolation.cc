#include "compose/interpolation.h"

#include <algorithm>
#include <optional>
#include <string_view>
#include <unordered_set>

#include "common/quote.h"
#include "compose/utf8.h"

namespace overmesh::compose {
namespace {

bool isNameStart(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; }

bool isNameChar(char c) { return isNameStart(c) || (c >= '0' && c <= '9'); }

// Substitutes one scalar. Knows where the scalar is (for messages) and appends the
// "not set" warning once per variable.
class ScalarInterpolator {
 public:
  ScalarInterpolator(const Environment& environment, Warnings& warnings, const LoadLimits& limits)
      : environment_(environment), warnings_(warnings), limits_(limits) {}

  Result<std::string> run(const std::string& text, const Mark& mark, const std::string& path) {
    mark_ = &mark;
    path_ = &path;
    text_ = &text;
    auto expanded = expand(text, 0, 0);
    if (!expanded) {
      return expanded;
    }
    std::string out = std::move(*expanded);
    // Every value may grow to maxScalarBytes; together they stay within maxExpandedBytes
    // (200,000 "$BIG" values of a 100 kB variable would not).
    interpolatedBytes_ += out.size();
    if (interpolatedBytes_ > limits_.maxExpandedBytes) {
      return errorf(ErrorKind::InvalidArgument,
                    "{}: {}: the values grow beyond {} bytes in all after interpolation: "
                    "refused",
                    where(), printable(path), limits_.maxExpandedBytes);
    }
    if (firstInvalidUtf8(out) != std::string::npos) {
      return errorf(ErrorKind::InvalidArgument,
                    "{}: {}: the value is not UTF-8 text after interpolation (a variable "
                    "holds other bytes): {}",
                    where(), printable(path), quote(out));
    }
    return out;
  }

 private:
  // How deep `${A:-${B:-${C}}}` may nest: the defaults and error texts are expanded
  // recursively, and each level costs a stack frame.
  static constexpr std::size_t kMaxNesting = 10;

  std::string where() const { return fmt::format("{}:{}", printable(mark_->file), mark_->line); }

  std::unexpected<Error> invalid(std::size_t at, std::string_view why) const {
    return errorf(ErrorKind::InvalidArgument,
                  "{}: {}: invalid interpolation format in {} at character {}: {}: valid "
                  "forms are $VAR, ${{VAR}}, ${{VAR:-default}}, ${{VAR-default}}, "
                  "${{VAR:?error}}, ${{VAR?error}}, and $$ for a literal $",
                  where(), printable(*path_), quote(*text_), at + 1, why);
  }

  // Substitutes every `$` form of `text`, which starts at character `offset` of the
  // scalar (for messages). `depth` counts the enclosing `${…}` whose default or error
  // text this is.
  Result<std::string> expand(std::string_view text, std::size_t offset, std::size_t depth) {
    if (depth > kMaxNesting) {
      return invalid(offset, fmt::format("\"${{\" nested deeper than {} levels", kMaxNesting));
    }
    std::string out;
    std::size_t i = 0;
    while (i < text.size()) {
      std::size_t dollar = text.find('$', i);
      if (dollar == std::string_view::npos) {
        out.append(text.substr(i));
        break;
      }
      out.append(text.substr(i, dollar - i));
      auto step = substitute(text, offset, dollar, depth, out);
      if (!step) {
        return std::unexpected(step.error());
      }
      i = *step;
      if (out.size() > limits_.maxScalarBytes) {
        return errorf(ErrorKind::InvalidArgument,
                      "{}: {}: the value grows beyond {} bytes after interpolation: refused",
                      where(), printable(*path_), limits_.maxScalarBytes);
      }
    }
    return out;
  }

  // The `}` closing the `${` whose `{` is at `open`, counting nested `${…}` and skipping
  // `$$`; npos when there is none.
  static std::size_t matchingBrace(std::string_view text, std::size_t open) {
    std::size_t depth = 1;
    for (std::size_t i = open + 1; i < text.size(); ++i) {
      if (text[i] == '$' && i + 1 < text.size() && (text[i + 1] == '$' || text[i + 1] == '{')) {
        depth += text[i + 1] == '{' ? 1 : 0;
        ++i;
      } else if (text[i] == '}' && --depth == 0) {
        return i;
      }
    }
    return std::string_view::npos;
  }

  // Handles the `$` at `dollar` of `text`, appending the substitution; returns where to
  // go on.
  Result<std::size_t> substitute(std::string_view text, std::size_t offset, std::size_t dollar,
                                 std::size_t depth, std::string& out) {
    std::size_t next = dollar + 1;
    if (next == text.size()) {
      return invalid(offset + dollar, "a \"$\" at the end");
    }
    if (text[next] == '$') {
      out += '$';
      return next + 1;
    }
    if (isNameStart(text[next])) {
      std::size_t end = next;
      while (end < text.size() && isNameChar(text[end])) {
        ++end;
      }
      out += lookupOrWarn(std::string(text.substr(next, end - next)));
      return end;
    }
    if (text[next] != '{') {
      return invalid(offset + dollar, "\"$\" must be followed by a name, \"{\" or \"$\"");
    }
    std::size_t close = matchingBrace(text, next);
    if (close == std::string_view::npos) {
      return invalid(offset + dollar, "\"${\" without a closing \"}\"");
    }
    std::string_view inside = text.substr(next + 1, close - next - 1);
    std::size_t nameEnd = 0;
    while (nameEnd < inside.size() && isNameChar(inside[nameEnd])) {
      ++nameEnd;
    }
    if (nameEnd == 0 || !isNameStart(inside[0])) {
      return invalid(offset + dollar, "a variable name starts with a letter or \"_\"");
    }
    std::string name(inside.substr(0, nameEnd));
    std::string_view rest = inside.substr(nameEnd);
    // Where `rest`'s text after the operator starts in the scalar, for nested messages.
    auto nestedOffset = [&](std::size_t operatorSize) {
      return offset + next + 1 + nameEnd + operatorSize;
    };
    const std::string* value = lookup(name);
    if (rest.empty()) {
      out += lookupOrWarn(name);
    } else if (rest.starts_with(":-") || rest.starts_with("-")) {
      bool orEmpty = rest[0] == ':';
      std::size_t operatorSize = orEmpty ? 2 : 1;
      bool useDefault = value == nullptr || (orEmpty && value->empty());
      if (!useDefault) {
        out += *value;
      } else {
        // The default is expanded only when it is used, as compose does.
        auto fallback = expand(rest.substr(operatorSize), nestedOffset(operatorSize), depth + 1);
        if (!fallback) {
          return std::unexpected(fallback.error());
        }
        out += *fallback;
      }
    } else if (rest.starts_with(":?") || rest.starts_with("?")) {
      bool orEmpty = rest[0] == ':';
      std::size_t operatorSize = orEmpty ? 2 : 1;
      if (value == nullptr || (orEmpty && value->empty())) {
        auto message = expand(rest.substr(operatorSize), nestedOffset(operatorSize), depth + 1);
        if (!message) {
          return std::unexpected(message.error());
        }
        if (message->empty()) {
          return errorf(ErrorKind::InvalidArgument,
                        "{}: {}: required variable {} is missing a value", where(),
                        printable(*path_), name);
        }
        return errorf(ErrorKind::InvalidArgument,
                      "{}: {}: required variable {} is missing a value: {}", where(),
                      printable(*path_), name, printable(*message));
      }
      out += *value;
    } else {
      return invalid(offset + dollar,
                     fmt::format("{} after the name {}", quote(rest.substr(0, 2)), name));
    }
    return close + 1;
  }

  const std::string* lookup(const std::string& name) const {
    auto found = environment_.find(name);
    return found == environment_.end() ? nullptr : &found->second;
  }

  std::string lookupOrWarn(const std::string& name) {
    if (const std::string* value = lookup(name)) {
      return *value;
    }
    if (warned_.insert(name).second) {
      warnings_.push_back(
          fmt::format("The \"{}\" variable is not set. Defaulting to a blank string.", name));
    }
    return {};
  }

  const Environment& environment_;
  Warnings& warnings_;
  std::unordered_set<std::string> warned_;  // names already warned about: each once
  const LoadLimits& limits_;
  const Mark* mark_ = nullptr;
  const std::string* path_ = nullptr;
  const std::string* text_ = nullptr;
  std::size_t interpolatedBytes_ = 0;
};

// Walks the tree; the depth is the parsed file's, bounded by LoadLimits::maxDepth.
Status interpolateTree(Value& value, std::vector<std::string>& path,
                       ScalarInterpolator& interpolator) {
  switch (value.kind) {
    case Value::Kind::Null:
      return {};
    case Value::Kind::Scalar: {
      if (value.text.find('$') == std::string::npos) {
        return {};
      }
      auto replaced = interpolator.run(value.text, value.mark, keyPath(path));
      if (!replaced) {
        return std::unexpected(replaced.error());
      }
      value.text = std::move(*replaced);
      return {};
    }
    case Value::Kind::Sequence:
      for (std::size_t i = 0; i < value.items.size(); ++i) {
        path.push_back(fmt::format("[{}]", i));
        auto done = interpolateTree(value.items[i], path, interpolator);
        path.pop_back();
        if (!done) {
          return done;
        }
      }
      return {};
    case Value::Kind::Mapping:
      for (auto& [key, item] : value.entries) {
        path.push_back(key.text);
        auto done = interpolateTree(item, path, interpolator);
        path.pop_back();
        if (!done) {
          return done;
        }
      }
      return {};
  }
  return {};
}

}  // namespace

bool isInterpolatedSection(std::string_view key) {
  return key == "services" || key == "networks" || key == "volumes" || key == "secrets" ||
         key == "configs";
}

Status interpolate(Value& root, const Environment& environment, Warnings& warnings,
                   const LoadLimits& limits) {
  if (!root.isMapping()) {
    return {};  // not a compose file: mergeFiles refuses it with the reason
  }
  ScalarInterpolator interpolator(environment, warnings, limits);
  std::vector<std::string> path;
  for (auto& [key, section] : root.entries) {
    if (!isInterpolatedSection(key.text)) {
      continue;
    }
    path.push_back(key.text);
    auto done = interpolateTree(section, path, interpolator);
    path.pop_back();
    if (!done) {
      return done;
    }
  }
  return {};
}

}  // namespace overmesh::compose
