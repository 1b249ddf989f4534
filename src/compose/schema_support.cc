#include "compose/schema_support.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <limits>

#include "common/duration.h"
#include "common/quote.h"

namespace overmesh::compose {
namespace {

std::string lowerAscii(std::string_view text) {
  std::string lowered(text);
  for (char& c : lowered) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return lowered;
}

std::size_t editDistance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> previous(b.size() + 1);
  std::vector<std::size_t> current(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) {
    previous[j] = j;
  }
  for (std::size_t i = 1; i <= a.size(); ++i) {
    current[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t substitute = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      current[j] = std::min({previous[j] + 1, current[j - 1] + 1, substitute});
    }
    std::swap(previous, current);
  }
  return previous[b.size()];
}

// Whether `text` reads as a decimal number with a fraction or exponent ("1.5", "2e3"),
// to tell "not a whole number" from "not a number".
bool looksDecimal(std::string_view text) {
  double parsed = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), parsed);
  return error == std::errc() && end == text.data() + text.size();
}

}  // namespace

std::string childPath(const std::string& path, std::string_view key) {
  std::string shown = printable(key);
  return path.empty() ? shown : fmt::format("{}.{}", path, shown);
}

std::string indexPath(const std::string& path, std::size_t index) {
  return fmt::format("{}[{}]", path, index);
}

std::unexpected<Error> schemaError(const Value& at, const std::string& path,
                                   std::string_view problem, std::string_view valid) {
  if (at.mark.file.empty()) {
    return errorf(ErrorKind::InvalidArgument, "{}: {}: {}", path, problem, valid);
  }
  return errorf(ErrorKind::InvalidArgument, "{}:{}: {}: {}: {}", printable(at.mark.file),
                at.mark.line, path, problem, valid);
}

bool isExtensionKey(std::string_view key) { return key.starts_with("x-"); }

std::string joinKeys(std::span<const std::string_view> keys) {
  std::string joined;
  for (std::string_view key : keys) {
    if (!joined.empty()) {
      joined += ", ";
    }
    joined += key;
  }
  return joined;
}

std::string closestKey(std::string_view key, std::span<const std::string_view> known) {
  std::string best;
  std::size_t bestDistance = 3;
  // Keys are short; a key far longer than any known one cannot be within two edits.
  if (key.size() > 64) {
    return best;
  }
  for (std::string_view candidate : known) {
    std::size_t distance = editDistance(key, candidate);
    if (distance < bestDistance) {
      bestDistance = distance;
      best = candidate;
    }
  }
  return best;
}

Status checkMapping(const Value& value, const std::string& path,
                    std::span<const std::string_view> known, std::string_view what) {
  if (value.isNull()) {
    return {};
  }
  if (!value.isMapping()) {
    return schemaError(value, path,
                       fmt::format("{} must be a mapping, not {}", what, describeKind(value)),
                       fmt::format("write its keys ({})", joinKeys(known)));
  }
  for (const auto& [key, item] : value.entries) {
    if (isExtensionKey(key.text) ||
        std::find(known.begin(), known.end(), key.text) != known.end()) {
      continue;
    }
    std::string suggestion = closestKey(key.text, known);
    std::string problem = suggestion.empty()
                              ? std::string("unknown key")
                              : fmt::format("unknown key (did you mean \"{}\"?)", suggestion);
    return schemaError(
        key, childPath(path, key.text), problem,
        fmt::format("valid keys are {} (and x-* extension fields)", joinKeys(known)));
  }
  return {};
}

Result<std::string> readString(const Value& value, const std::string& path,
                               std::string_view valid) {
  if (value.isScalar()) {
    return value.text;
  }
  return schemaError(value, path, fmt::format("expected a single value, found {}", describeKind(value)),
                     fmt::format("use {}", valid));
}

bool boolWord(std::string_view text, bool& out) {
  std::string lowered = lowerAscii(text);
  if (lowered == "true" || lowered == "yes" || lowered == "on") {
    out = true;
    return true;
  }
  if (lowered == "false" || lowered == "no" || lowered == "off") {
    out = false;
    return true;
  }
  return false;
}

Result<bool> readBool(const Value& value, const std::string& path) {
  constexpr std::string_view kValid = "use true or false (yes/no and on/off also work)";
  if (!value.isScalar()) {
    return schemaError(value, path, fmt::format("expected a boolean, found {}", describeKind(value)),
                       kValid);
  }
  bool result = false;
  if (!boolWord(value.text, result)) {
    return schemaError(value, path, fmt::format("{} is not a boolean", quote(value.text)), kValid);
  }
  return result;
}

Result<std::int64_t> readWhole(const Value& value, const std::string& path, std::int64_t min,
                               std::int64_t max) {
  std::string valid = max == std::numeric_limits<std::int64_t>::max()
                          ? fmt::format("use a whole number ≥ {}", min)
                          : fmt::format("use a whole number from {} to {}", min, max);
  if (!value.isScalar()) {
    return schemaError(value, path, fmt::format("expected a number, found {}", describeKind(value)),
                       valid);
  }
  const std::string& text = value.text;
  std::int64_t parsed = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), parsed);
  if (text.empty() || end != text.data() + text.size() || error == std::errc::invalid_argument) {
    std::string problem = looksDecimal(text) ? fmt::format("{} is not a whole number", quote(text))
                                             : fmt::format("{} is not a number", quote(text));
    return schemaError(value, path, problem, valid);
  }
  if (error == std::errc::result_out_of_range || parsed < min || parsed > max) {
    return schemaError(value, path, fmt::format("{} is out of range", quote(text)), valid);
  }
  return parsed;
}

Result<std::int64_t> readDurationMs(const Value& value, const std::string& path) {
  std::string valid = fmt::format(
      "use a duration: numbers with units h, m, s, ms, us or ns, e.g. 500ms, 1.5s, 1m30s "
      "(at most {}ms)",
      kMaxDurationMs);
  if (!value.isScalar()) {
    return schemaError(value, path, fmt::format("expected a duration, found {}", describeKind(value)),
                       valid);
  }
  auto parsed = parseDuration(value.text, path);
  if (!parsed) {
    return schemaError(value, path, fmt::format("{} is not a duration", quote(value.text)), valid);
  }
  return parsed->count();
}

Result<std::string> readChoice(const Value& value, const std::string& path,
                               std::span<const std::string_view> choices) {
  std::string valid = fmt::format("use one of {}", joinKeys(choices));
  if (!value.isScalar()) {
    return schemaError(value, path,
                       fmt::format("expected a single value, found {}", describeKind(value)), valid);
  }
  if (std::find(choices.begin(), choices.end(), value.text) == choices.end()) {
    return schemaError(value, path, fmt::format("{} is not valid here", quote(value.text)), valid);
  }
  return value.text;
}

Result<std::vector<std::string>> readStringList(const Value& value, const std::string& path,
                                                bool allowSingle) {
  std::vector<std::string> list;
  if (allowSingle && value.isScalar()) {
    list.push_back(value.text);
    return list;
  }
  std::string_view valid =
      allowSingle ? "use a string or a list of strings" : "use a list of strings";
  if (!value.isSequence()) {
    return schemaError(value, path, fmt::format("expected a list, found {}", describeKind(value)),
                       valid);
  }
  for (std::size_t i = 0; i < value.items.size(); ++i) {
    const Value& item = value.items[i];
    if (!item.isScalar()) {
      return schemaError(item, indexPath(path, i),
                         fmt::format("expected a string, found {}", describeKind(item)), valid);
    }
    list.push_back(item.text);
  }
  return list;
}

Result<StringMap> readLabels(const Value& value, const std::string& path) {
  constexpr std::string_view kValid =
      "use a mapping (key: value) or a list of \"key=value\" strings";
  StringMap labels;
  if (value.isNull()) {
    return labels;
  }
  if (value.isMapping()) {
    for (const auto& [key, item] : value.entries) {
      if (item.isNull()) {
        labels[key.text] = "";
        continue;
      }
      if (!item.isScalar()) {
        return schemaError(item, childPath(path, key.text),
                           fmt::format("expected a single value, found {}", describeKind(item)),
                           "use a string, a number or a boolean");
      }
      bool flag = false;
      labels[key.text] = (!item.quoted && boolWord(item.text, flag))
                             ? std::string(flag ? "true" : "false")
                             : item.text;
    }
    return labels;
  }
  if (!value.isSequence()) {
    return schemaError(value, path, fmt::format("expected labels, found {}", describeKind(value)),
                       kValid);
  }
  for (std::size_t i = 0; i < value.items.size(); ++i) {
    const Value& item = value.items[i];
    std::string itemPath = indexPath(path, i);
    if (!item.isScalar()) {
      return schemaError(item, itemPath,
                         fmt::format("expected a \"key=value\" string, found {}", describeKind(item)),
                         kValid);
    }
    std::size_t equals = item.text.find('=');
    std::string key = item.text.substr(0, equals);
    if (key.empty()) {
      return schemaError(item, itemPath, fmt::format("{} has no key", quote(item.text)), kValid);
    }
    if (labels.contains(key)) {
      return schemaError(item, itemPath, fmt::format("{} is given twice", quote(key)),
                         "give each key once");
    }
    labels[key] = equals == std::string::npos ? "" : item.text.substr(equals + 1);
  }
  return labels;
}

Status checkName(const Value& keyValue, const std::string& path, std::string_view what) {
  const std::string& name = keyValue.text;
  auto allowed = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '.' || c == '-';
  };
  bool valid = !name.empty() && std::isalnum(static_cast<unsigned char>(name[0])) != 0 &&
               std::all_of(name.begin(), name.end(), allowed);
  if (!valid) {
    return schemaError(keyValue, path, fmt::format("{} is not a valid {} name", quote(name), what),
                       "use letters, digits, '_', '.' and '-', starting with a letter or digit");
  }
  return {};
}

}  // namespace overmesh::compose
