#pragma once

// How typed errors cross the API: an HTTP status chosen from the kind, and a body
// {"error":{"kind":"Conflict","message":"…"}} that the client turns back into an Error.

#include "api/http_types.h"
#include "common/error.h"

namespace overmesh::api {

int httpStatusFor(ErrorKind kind);

HttpResponse errorResponse(const Error& error);

// The Error a non-2xx response carries. A body that is not our error JSON (a proxy's
// page, say) becomes Unavailable/Internal with the status and the start of the body.
Error errorFromResponse(const HttpResponse& response);

inline bool isSuccess(const HttpResponse& response) {
  return response.status >= 200 && response.status < 300;
}

}  // namespace overmesh::api
