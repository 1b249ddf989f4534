#include "api/api_error.h"

#include <nlohmann/json.hpp>

namespace overmesh::api {

int httpStatusFor(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::InvalidArgument:
      return 400;
    case ErrorKind::Unauthenticated:
      return 401;
    case ErrorKind::NotFound:
      return 404;
    case ErrorKind::Conflict:
      return 409;
    case ErrorKind::Compacted:
      return 410;
    case ErrorKind::FailedPrecondition:
      return 412;
    case ErrorKind::Unavailable:
      return 503;
    case ErrorKind::Internal:
      return 500;
  }
  return 500;
}

HttpResponse errorResponse(const Error& error) {
  nlohmann::json body = {
      {"error", {{"kind", std::string(errorKindName(error.kind))}, {"message", error.message}}}};
  return HttpResponse{httpStatusFor(error.kind), body.dump()};
}

Error errorFromResponse(const HttpResponse& response) {
  nlohmann::json body = nlohmann::json::parse(response.body, nullptr, false);
  if (body.is_object() && body.contains("error") && body["error"].is_object()) {
    const auto& error = body["error"];
    std::string kind = error.value("kind", "Internal");
    std::string message = error.value("message", "");
    return Error{errorKindFromName(kind), message};
  }
  ErrorKind kind = response.status >= 500 ? ErrorKind::Unavailable : ErrorKind::Internal;
  return Error{kind, fmt::format("unexpected HTTP {} response: {}", response.status,
                                 response.body.substr(0, 200))};
}

}  // namespace overmesh::api
