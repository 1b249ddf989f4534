#pragma once

// podman's image pull answer (POST /libpod/images/pull?quiet=false): a stream of JSON
// objects, one a line — {"stream":"Copying blob sha256:…\n"} while it works, then
// {"error":"…"} or {"images":[…],"id":"…"} at the end. Untrusted input read as it
// arrives: a line longer than kMaxPullLine is skipped (not buffered), a line that is not
// a JSON object is ignored, and the error text is capped.
//
// Pure: feed() bytes in any pieces; the parser keeps the summary, the error and the id.

#include <cstddef>
#include <set>
#include <string>
#include <string_view>

#include "common/error.h"

namespace overmesh::runtime::podman {

inline constexpr std::size_t kMaxPullLine = 64 * 1024;
inline constexpr std::size_t kMaxPullError = 2048;

class PullStreamParser {
 public:
  // Consumes a piece of the stream; returns true when the progress summary changed.
  bool feed(std::string_view bytes);
  // Consumes a last line without its newline (call once the stream ended).
  bool finish();

  // "resolving", "copying 2 of 3 layers", "copying config", "writing manifest", "done".
  const std::string& summary() const { return summary_; }
  // The error podman reported ("" when none).
  const std::string& error() const { return error_; }
  // The pulled image's ID ("" until the final object).
  const std::string& imageId() const { return imageId_; }

 private:
  bool line(std::string_view text);
  bool setSummary(std::string summary);

  std::string pending_;
  bool skipping_ = false;  // inside a line longer than kMaxPullLine
  std::set<std::string> blobs_;
  std::set<std::string> blobsDone_;
  std::string summary_ = "resolving";
  std::string error_;
  std::string imageId_;
};

// The kind of a pull error from podman's (the registry's) words: NotFound for "manifest
// unknown" / "not found", Unauthenticated for "unauthorized" / "denied" / "authentication
// required", InvalidArgument for a bad reference, Unavailable otherwise (connection
// refused, no route, timeouts, TLS).
ErrorKind pullErrorKind(std::string_view message);

// A pull error as a task's message shows it: the cause first, then podman's whole chain
// of contexts ("initializing source docker://…: pinging container registry …: Get …: dial
// tcp …: connect: connection refused" becomes "connection refused (initializing source
// …)"). The cause is the last ": "-separated part of the chain: Go errors put the most
// specific one last, and a task's message is cut at 256 bytes (orchestrator) where the
// chain's end would be lost. A message without a chain is returned as it is.
std::string pullErrorSummary(std::string_view chain);

}  // namespace overmesh::runtime::podman
