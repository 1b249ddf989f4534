#include "api/api_error.h"

#include <nlohmann/json.hpp>

#include "common/json.h"
#include "common/quote.h"

namespace overmesh::api {

int httpStatusFor(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::InvalidArgument:
      return 400;
    case ErrorKind::Unauthenticated:
      return 401;
    case ErrorKind::PermissionDenied:
      return 403;
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
  return HttpResponse{httpStatusFor(error.kind), dumpJson(body)};
}

Error errorFromResponse(const HttpResponse& response) {
  nlohmann::json body = nlohmann::json::parse(response.body, nullptr, false);
  if (body.is_object() && body.contains("error") && body["error"].is_object()) {
    // A peer's answer: fields of the wrong type are read as absent, never thrown.
    const auto& error = body["error"];
    auto kind = error.find("kind");
    auto message = error.find("message");
    if (message != error.end() && message->is_string()) {
      return Error{errorKindFromName(kind != error.end() && kind->is_string()
                                         ? kind->get<std::string>()
                                         : "Internal"),
                   message->get<std::string>()};
    }
  }
  ErrorKind kind = response.status >= 500 ? ErrorKind::Unavailable : ErrorKind::Internal;
  return Error{kind, fmt::format("unexpected HTTP {} response: {}", response.status,
                                 quote(response.body, 200))};
}

}  // namespace overmesh::api
