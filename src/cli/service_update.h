#pragma once

// The read-change-write loop behind `service update` and `service scale`: read the
// service, apply the user's flags to its spec, send the spec with the updateIndex it was
// read at; when the daemon answers Conflict (another update went through in between, even
// one that only scaled), read again and re-apply the flags. Apart from the daemon client
// so that its retry rule is unit-tested with plain functions.

#include <fmt/format.h>

#include <string>
#include <utility>

#include "api/service_types.h"
#include "common/error.h"

namespace overmesh::cli {

// `read()` → Result<api::Service>: the service as the daemon has it now.
// `change(const api::Service&)` → Result<api::ServiceSpec>: the new spec; its error ends
//   the loop (bad flags).
// `send(const api::Service& readAt, const api::ServiceUpdateRequest&)` → Result<T> for any
//   T: posts the request for the service `readAt` (its ID names it unambiguously).
// Returns the service as it was read for the update that went through. Fails with the
// first error of read, change or send that is not a Conflict, or, after `maxAttempts`
// Conflicts, with the last one naming `reference` and the attempts.
template <typename Read, typename Change, typename Send>
Result<api::Service> updateWithRetry(const std::string& reference, bool force, int maxAttempts,
                                     Read&& read, Change&& change, Send&& send) {
  Error lastConflict{ErrorKind::Conflict, "no attempt was made"};
  for (int attempt = 0; attempt < maxAttempts; ++attempt) {
    Result<api::Service> service = read();
    if (!service) {
      return std::unexpected(service.error());
    }
    Result<api::ServiceSpec> spec = change(*service);
    if (!spec) {
      return std::unexpected(spec.error());
    }
    api::ServiceUpdateRequest request{std::move(*spec), service->updateIndex, force};
    auto sent = send(*service, request);
    if (sent) {
      return service;
    }
    if (sent.error().kind != ErrorKind::Conflict) {
      return std::unexpected(sent.error());
    }
    lastConflict = sent.error();
  }
  return std::unexpected(lastConflict.withContext(fmt::format(
      "service {} kept changing during {} attempts to update it", reference, maxAttempts)));
}

}  // namespace overmesh::cli
