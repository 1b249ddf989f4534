#pragma once

// JSON decoding that fails with a message naming the field, the value and the expected
// type, instead of nlohmann's "[json.exception.type_error.302]" text.

#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/error.h"

namespace overmesh {

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
}  // namespace json_detail

// Reads json[name] into `out` when present (and not null); leaves `out` alone otherwise.
// Throws JsonFieldError naming the field when the value cannot convert.
template <typename T>
void readField(const nlohmann::json& json, const char* name, T& out) {
  auto it = json.find(name);
  if (it == json.end() || it->is_null()) {
    return;
  }
  try {
    if constexpr (json_detail::IsOptional<T>::value) {
      out = it->template get<typename T::value_type>();
    } else {
      out = it->template get<T>();
    }
  } catch (const nlohmann::json::exception&) {
    throw JsonFieldError(fmt::format("field \"{}\" has the wrong type (got {} {})", name,
                                     it->type_name(), it->dump()));
  }
}

// Parses `text` as a T. Fails with InvalidArgument naming `what` and the problem.
template <typename T>
Result<T> decodeJson(std::string_view text, std::string_view what) {
  try {
    nlohmann::json json = nlohmann::json::parse(text);
    if (!json.is_object() && !json.is_array()) {
      return errorf(ErrorKind::InvalidArgument, "{}: expected a JSON object", what);
    }
    return json.get<T>();
  } catch (const JsonFieldError& error) {
    return errorf(ErrorKind::InvalidArgument, "{}: {}", what, error.what());
  } catch (const nlohmann::json::exception& error) {
    return errorf(ErrorKind::InvalidArgument, "{}: not valid JSON ({})", what, error.what());
  }
}

template <typename T>
std::string encodeJson(const T& value) {
  return nlohmann::json(value).dump();
}

}  // namespace overmesh
