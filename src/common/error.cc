#include "common/error.h"

#include <array>
#include <cstring>

namespace overmesh {
namespace {

struct KindName {
  ErrorKind kind;
  std::string_view name;
};

constexpr std::array kKindNames{
    KindName{ErrorKind::InvalidArgument, "InvalidArgument"},
    KindName{ErrorKind::NotFound, "NotFound"},
    KindName{ErrorKind::Conflict, "Conflict"},
    KindName{ErrorKind::FailedPrecondition, "FailedPrecondition"},
    KindName{ErrorKind::Unauthenticated, "Unauthenticated"},
    KindName{ErrorKind::PermissionDenied, "PermissionDenied"},
    KindName{ErrorKind::Unavailable, "Unavailable"},
    KindName{ErrorKind::Compacted, "Compacted"},
    KindName{ErrorKind::Internal, "Internal"},
};

}  // namespace

std::string_view errorKindName(ErrorKind kind) {
  for (const auto& entry : kKindNames) {
    if (entry.kind == kind) {
      return entry.name;
    }
  }
  return "Internal";
}

ErrorKind errorKindFromName(std::string_view name) {
  for (const auto& entry : kKindNames) {
    if (entry.name == name) {
      return entry.kind;
    }
  }
  return ErrorKind::Internal;
}

std::string errnoText(int err) {
  std::array<char, 256> buffer{};
  // GNU strerror_r returns the message pointer, which may or may not be `buffer`.
  return std::string(strerror_r(err, buffer.data(), buffer.size()));
}

}  // namespace overmesh
