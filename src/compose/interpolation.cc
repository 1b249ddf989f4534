#include "compose/interpolation.h"

#include <algorithm>
#include <optional>
#include <string_view>

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
    std::string out;
    std::size_t i = 0;
    while (i < text.size()) {
      std::size_t dollar = text.find('$', i);
      if (dollar == std::string::npos) {
        out.append(text, i, std::string::npos);
        break;
      }
      out.append(text, i, dollar - i);
      auto step = substitute(dollar, out);
      if (!step) {
        return std::unexpected(step.error());
      }
      i = *step;
      if (out.size() > limits_.maxScalarBytes) {
        return errorf(ErrorKind::InvalidArgument,
                      "{}: {}: the value grows beyond {} bytes after interpolation: refused",
                      where(), path, limits_.maxScalarBytes);
      }
    }
    // Every value may grow to maxScalarBytes; together they stay within maxExpandedBytes
    // (200,000 "$BIG" values of a 100 kB variable would not).
    interpolatedBytes_ += out.size();
    if (interpolatedBytes_ > limits_.maxExpandedBytes) {
      return errorf(ErrorKind::InvalidArgument,
                    "{}: {}: the values grow beyond {} bytes in all after interpolation: "
                    "refused",
                    where(), path, limits_.maxExpandedBytes);
    }
    if (firstInvalidUtf8(out) != std::string::npos) {
      return errorf(ErrorKind::InvalidArgument,
                    "{}: {}: the value is not UTF-8 text after interpolation (a variable "
                    "holds other bytes): {}",
                    where(), path, quote(out));
    }
    return out;
  }

 private:
  std::string where() const { return fmt::format("{}:{}", mark_->file, mark_->line); }

  std::unexpected<Error> invalid(std::size_t at, std::string_view why) const {
    return errorf(ErrorKind::InvalidArgument,
                  "{}: {}: invalid interpolation format in {} at character {}: {}: valid "
                  "forms are $VAR, ${{VAR}}, ${{VAR:-default}}, ${{VAR-default}}, "
                  "${{VAR:?error}}, ${{VAR?error}}, and $$ for a literal $",
                  where(), *path_, quote(*text_), at + 1, why);
  }

  // Handles the `$` at `dollar`, appending the substitution; returns where to go on.
  Result<std::size_t> substitute(std::size_t dollar, std::string& out) {
    const std::string& text = *text_;
    std::size_t next = dollar + 1;
    if (next == text.size()) {
      return invalid(dollar, "a \"$\" at the end");
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
      out += lookupOrWarn(text.substr(next, end - next));
      return end;
    }
    if (text[next] != '{') {
      return invalid(dollar, "\"$\" must be followed by a name, \"{\" or \"$\"");
    }
    std::size_t close = text.find('}', next);
    if (close == std::string::npos) {
      return invalid(dollar, "\"${\" without a closing \"}\"");
    }
    std::string_view inside(text.data() + next + 1, close - next - 1);
    std::size_t nameEnd = 0;
    while (nameEnd < inside.size() && isNameChar(inside[nameEnd])) {
      ++nameEnd;
    }
    if (nameEnd == 0 || !isNameStart(inside[0])) {
      return invalid(dollar, "a variable name starts with a letter or \"_\"");
    }
    std::string name(inside.substr(0, nameEnd));
    std::string_view rest = inside.substr(nameEnd);
    const std::string* value = lookup(name);
    if (rest.empty()) {
      out += lookupOrWarn(name);
    } else if (rest.starts_with(":-") || rest.starts_with("-")) {
      bool orEmpty = rest[0] == ':';
      std::string_view fallback = rest.substr(orEmpty ? 2 : 1);
      bool useDefault = value == nullptr || (orEmpty && value->empty());
      out += useDefault ? std::string(fallback) : *value;
    } else if (rest.starts_with(":?") || rest.starts_with("?")) {
      bool orEmpty = rest[0] == ':';
      std::string_view message = rest.substr(orEmpty ? 2 : 1);
      if (value == nullptr || (orEmpty && value->empty())) {
        if (message.empty()) {
          return errorf(ErrorKind::InvalidArgument,
                        "{}: {}: required variable {} is missing a value", where(), *path_, name);
        }
        return errorf(ErrorKind::InvalidArgument,
                      "{}: {}: required variable {} is missing a value: {}", where(), *path_, name,
                      printable(message));
      }
      out += *value;
    } else {
      return invalid(dollar, fmt::format("{} after the name {}", quote(rest.substr(0, 2)), name));
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
    std::string warning =
        fmt::format("The \"{}\" variable is not set. Defaulting to a blank string.", name);
    if (std::find(warnings_.begin(), warnings_.end(), warning) == warnings_.end()) {
      warnings_.push_back(std::move(warning));
    }
    return {};
  }

  const Environment& environment_;
  Warnings& warnings_;
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

Status interpolate(Value& root, const Environment& environment, Warnings& warnings,
                   const LoadLimits& limits) {
  ScalarInterpolator interpolator(environment, warnings, limits);
  std::vector<std::string> path;
  return interpolateTree(root, path, interpolator);
}

}  // namespace overmesh::compose
