#pragma once

// Digest pinning (`service create|update --image web:1` is recorded as
// web:1@sha256:…, as Docker does), so that every node pulls the same bytes even when the
// tag moves later. The manager asks an ImageResolver (skopeo in the daemon, a fake in
// tests) before it writes the service, outside any store transaction: it is network I/O.

#include <string>
#include <vector>

#include "api/container_types.h"
#include "common/error.h"
#include "common/image_reference.h"

namespace overmesh::manager {

class ImageResolver {
 public:
  virtual ~ImageResolver() = default;

  // The digest ("sha256:<64 hex>") of the manifest `reference` (a tag, no digest) names
  // in its registry, or of the manifest list when the tag names one (Docker pins the
  // list, so each node still picks its own platform). `settings` says which registries
  // are plain HTTP and which mirrors to ask first for docker.io names. Fails (Unavailable,
  // NotFound…) with the registry's own words when no candidate answers.
  virtual Result<std::string> resolveDigest(const ImageReference& reference,
                                            const api::RegistrySettings& settings) = 0;
};

// One place to ask for a manifest: "HOST/PATH:TAG" as skopeo's docker:// transport takes
// it, and whether TLS is required and verified.
struct RegistryCandidate {
  std::string reference;
  bool tlsVerify = true;
  auto operator<=>(const RegistryCandidate&) const = default;
};

// Where to ask, in order: for a docker.io name, each mirror first (its host with the same
// path and tag; TLS off for an http:// mirror or one in the insecure list), then docker.io;
// for any other name its own registry alone. TLS is off for a registry in
// settings.insecureRegistries (compared as normalised "HOST[:PORT]"). `reference` must
// carry a tag; a digest, if any, is ignored. Pure.
std::vector<RegistryCandidate> registryCandidates(const ImageReference& reference,
                                                  const api::RegistrySettings& settings);

}  // namespace overmesh::manager
