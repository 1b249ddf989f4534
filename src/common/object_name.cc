#include "common/object_name.h"

#include <algorithm>

namespace overmesh {
namespace {

// ASCII only, on purpose: std::isalnum depends on the locale.
bool isAsciiAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

}  // namespace

bool isValidObjectName(std::string_view name) {
  if (name.empty() || name.size() > kMaxObjectName || !isAsciiAlnum(name.front())) {
    return false;
  }
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return isAsciiAlnum(c) || c == '_' || c == '.' || c == '-'; });
}

}  // namespace overmesh
