#pragma once

// ImageResolver over skopeo (`skopeo inspect --raw docker://REF`): skopeo shares podman's
// registry code (containers/image), so what resolves here is what the nodes can pull. The
// digest is the SHA-256 of the manifest bytes exactly as the registry served them.

#include <chrono>
#include <string>

#include "manager/image_resolver.h"

namespace overmesh::manager {

class SkopeoImageResolver : public ImageResolver {
 public:
  struct Options {
    std::string skopeo = "skopeo";  // the program, searched in PATH
    // Per candidate: a registry that does not answer costs at most this.
    std::chrono::milliseconds timeout{10'000};
  };
  SkopeoImageResolver() : SkopeoImageResolver(Options{}) {}
  explicit SkopeoImageResolver(Options options) : options_(std::move(options)) {}

  // Asks each of registryCandidates() in turn; the first manifest wins. Fails with
  // Unavailable carrying each candidate's reason (skopeo's last stderr line, bounded:
  // "manifest unknown", "connection refused"…), or NotFound when skopeo is not installed.
  Result<std::string> resolveDigest(const ImageReference& reference,
                                    const api::RegistrySettings& settings) override;

 private:
  Options options_;
};

}  // namespace overmesh::manager
