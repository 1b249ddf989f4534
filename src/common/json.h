#pragma once

// JSON helpers that never throw and never crash on what a user, a task or a peer sent:
//  - dumpJson() serialises without throwing: a string that is not valid UTF-8 (a task's
//    output, a peer's bytes echoed in a message) has its bad bytes replaced by U+FFFD
//    instead of nlohmann's type_error.316. Every serialisation in src/ goes through it.
//  - decodeJson()/decodeFields() parse and read fields and return InvalidArgument naming
//    the field, its value (quoted and bounded, see common/quote.h) and what would be
//    valid, instead of letting nlohmann's exceptions escape.
//  - readField() checks whole numbers itself: nlohmann converts 1e300 or true into an
//    int without complaint (the first is undefined behaviour).

#include <concepts>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/quote.h"

namespace overmesh {

// Serialises `json`; never throws. indent -1 = compact.
inline std::string dumpJson(const nlohmann::json& json, int indent = -1) {
  return json.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

// Thrown by readField when a field has the wrong type; decodeJson turns it into an Error.
class JsonFieldError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace json_detail {
template <typename T>
struct IsOptional : std::false_type {};
template <typename T>
struct IsOptional<std::optional<T>> : std::true_type {};

template <typename T>
struct IsVector : std::false_type {};
template <typename T>
struct IsVector<std::vector<T>> : std::true_type {};
// A vector of whole numbers: its elements get convert()'s range checks. (A separate trait
// because `IsVector<T>::value && std::integral<typename T::value_type>` names
// T::value_type even for types that have none.)
template <typename T>
struct IsIntegralVector : std::false_type {};
template <typename T>
struct IsIntegralVector<std::vector<T>> : std::bool_constant<std::integral<T>> {};

template <typename T>
struct IsStringMap : std::false_type {};
template <typename V>
struct IsStringMap<std::map<std::string, V>> : std::true_type {};

// A JSON value as an error message shows it: its JSON text (ASCII only: other characters
// are \u-escaped, bad UTF-8 replaced), at most kQuotedMax bytes of it.
// A value nested deeper than that is described, not dumped: dump() recurses, and a 1 MiB
// body can nest half a million levels deep (parsing and destroying are iterative).
inline constexpr int kShownDepth = 16;

// True when `value` has fewer than `levels` levels of arrays and objects.
inline bool shallowerThan(const nlohmann::json& value, int levels) {
  if (!value.is_structured()) {
    return true;
  }
  if (levels <= 1) {
    return false;
  }
  for (const auto& element : value) {
    if (!shallowerThan(element, levels - 1)) {
      return false;
    }
  }
  return true;
}

inline std::string shown(const nlohmann::json& value) {
  if (!shallowerThan(value, kShownDepth)) {
    return fmt::format("nested deeper than {} levels", kShownDepth);
  }
  std::string text = value.dump(-1, ' ', true, nlohmann::json::error_handler_t::replace);
  return printable(text, kQuotedMax);
}

// What a field of type T accepts, for error messages.
template <typename T>
std::string expected() {
  if constexpr (std::same_as<T, bool>) {
    return "true or false";
  } else if constexpr (std::integral<T>) {
    return fmt::format("a whole number from {} to {}", std::numeric_limits<T>::min(),
                       std::numeric_limits<T>::max());
  } else if constexpr (std::floating_point<T>) {
    return "a number";
  } else if constexpr (std::same_as<T, std::string>) {
    return "a string";
  } else if constexpr (IsVector<T>::value) {
    return "an array of " + expected<typename T::value_type>();
  } else if constexpr (IsStringMap<T>::value) {
    return "an object whose values are " + expected<typename T::mapped_type>();
  } else {
    return "an object";
  }
}

// A JSON number that is a whole number within T's range, converted; nullopt otherwise
// (a float with a fraction, 1e300, a boolean, a string...).
template <std::integral T>
std::optional<T> wholeNumber(const nlohmann::json& value) {
  if (value.is_number_unsigned()) {
    auto number = value.get<std::uint64_t>();
    if (number > static_cast<std::uint64_t>(std::numeric_limits<T>::max())) {
      return std::nullopt;
    }
    return static_cast<T>(number);
  }
  if (value.is_number_integer()) {
    auto number = value.get<std::int64_t>();
    if (std::cmp_less(number, std::numeric_limits<T>::min()) ||
        std::cmp_greater(number, std::numeric_limits<T>::max())) {
      return std::nullopt;
    }
    return static_cast<T>(number);
  }
  if (value.is_number_float()) {
    double number = value.get<double>();
    // The bounds are exact powers of two (or zero), so these comparisons are exact.
    double low = static_cast<double>(std::numeric_limits<T>::min());
    double high = std::ldexp(1.0, std::numeric_limits<T>::digits);
    if (!std::isfinite(number) || number != std::trunc(number) || number < low ||
        number >= high) {
      return std::nullopt;
    }
    return static_cast<T>(number);
  }
  return std::nullopt;
}

template <typename T>
T convert(const nlohmann::json& value, const char* name) {
  auto wrongType = [&] {
    return JsonFieldError(fmt::format("field \"{}\" has the wrong type (got {} {}): expected {}",
                                      name, value.type_name(), shown(value), expected<T>()));
  };
  if constexpr (std::same_as<T, bool>) {
    if (!value.is_boolean()) {
      throw wrongType();
    }
    return value.get<bool>();
  } else if constexpr (std::integral<T>) {
    auto number = wholeNumber<T>(value);
    if (!number) {
      throw wrongType();
    }
    return *number;
  } else if constexpr (IsIntegralVector<T>::value) {
    if (!value.is_array()) {
      throw wrongType();
    }
    T out;
    for (const auto& element : value) {
      out.push_back(convert<typename T::value_type>(element, name));
    }
    return out;
  } else {
    try {
      return value.get<T>();
    } catch (const JsonFieldError&) {
      throw;  // a nested object's field, already named
    } catch (const std::exception&) {
      throw wrongType();
    }
  }
}
}  // namespace json_detail

// Reads json[name] into `out` when present (and not null); leaves `out` alone otherwise.
// Throws JsonFieldError naming the field, its value and the valid type when the value
// cannot convert.
template <typename T>
void readField(const nlohmann::json& json, const char* name, T& out) {
  if (!json.is_object()) {
    throw JsonFieldError(fmt::format("expected a JSON object, got {} {}", json.type_name(),
                                     json_detail::shown(json)));
  }
  auto it = json.find(name);
  if (it == json.end() || it->is_null()) {
    return;
  }
  if constexpr (json_detail::IsOptional<T>::value) {
    out = json_detail::convert<typename T::value_type>(*it, name);
  } else {
    out = json_detail::convert<T>(*it, name);
  }
}

// The same for a field that must be present: throws JsonFieldError when it is missing.
template <typename T>
void requireField(const nlohmann::json& json, const char* name, T& out) {
  if (json.is_object() && (!json.contains(name) || json.at(name).is_null())) {
    throw JsonFieldError(fmt::format("field \"{}\" is missing: expected {}", name,
                                     json_detail::expected<T>()));
  }
  readField(json, name, out);
}

// Parses `text`, which must be a JSON object. Never throws.
inline Result<nlohmann::json> parseJsonObject(std::string_view text, std::string_view what) {
  nlohmann::json json = nlohmann::json::parse(text, nullptr, false);
  if (json.is_discarded()) {
    // Parse again for nlohmann's reason (where and what); its text may quote the
    // offending bytes, so it is escaped and bounded.
    std::string reason;
    try {
      nlohmann::json again = nlohmann::json::parse(text);
      reason = "unexpected";
    } catch (const std::exception& error) {
      reason = printable(error.what());
    }
    return errorf(ErrorKind::InvalidArgument, "{}: the body is not valid JSON ({}): {}", what,
                  reason, quote(text));
  }
  if (!json.is_object()) {
    return errorf(ErrorKind::InvalidArgument, "{}: expected a JSON object, got {} {}", what,
                  json.type_name(), quote(text));
  }
  return json;
}

// Calls readAll(json) on the parsed object and turns whatever it throws into
// InvalidArgument naming `what`. Never throws.
template <typename ReadAll>
Status decodeFields(std::string_view text, std::string_view what, ReadAll&& readAll) {
  auto json = parseJsonObject(text, what);
  if (!json) {
    return std::unexpected(json.error());
  }
  try {
    readAll(*json);
  } catch (const JsonFieldError& error) {
    return errorf(ErrorKind::InvalidArgument, "{}: {}", what, error.what());
  } catch (const std::exception& error) {
    return errorf(ErrorKind::InvalidArgument, "{}: {}", what, printable(error.what()));
  }
  return {};
}

// Decodes a request object into a fresh T: `readInto(json, value)` reads its fields with
// readField/requireField. InvalidArgument naming `what` on any problem; never throws.
template <typename T, typename ReadInto>
Result<T> decodeObject(std::string_view text, std::string_view what, ReadInto&& readInto) {
  T value{};
  auto read = decodeFields(text, what, [&](const nlohmann::json& json) { readInto(json, value); });
  if (!read) {
    return std::unexpected(read.error());
  }
  return value;
}

// Parses `text` as a T (a JSON object or array). Fails with InvalidArgument naming `what`
// and the problem; never throws.
template <typename T>
Result<T> decodeJson(std::string_view text, std::string_view what) {
  nlohmann::json json = nlohmann::json::parse(text, nullptr, false);
  if (json.is_discarded()) {
    return std::unexpected(parseJsonObject(text, what).error());
  }
  if (!json.is_object() && !json.is_array()) {
    return errorf(ErrorKind::InvalidArgument, "{}: expected a JSON object, got {} {}", what,
                  json.type_name(), quote(text));
  }
  try {
    return json.get<T>();
  } catch (const JsonFieldError& error) {
    return errorf(ErrorKind::InvalidArgument, "{}: {}", what, error.what());
  } catch (const std::exception& error) {
    return errorf(ErrorKind::InvalidArgument, "{}: {}", what, printable(error.what()));
  }
}

template <typename T>
std::string encodeJson(const T& value) {
  return dumpJson(nlohmann::json(value));
}

}  // namespace overmesh
