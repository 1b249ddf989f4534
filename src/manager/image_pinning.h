#pragma once

// What a service's stored image becomes at `service create|update`: the normalised
// reference pinned to the digest the resolver found, or left unpinned with Docker's
// warning when it found none. Pure given the resolver.

#include <string>
#include <string_view>
#include <vector>

#include "api/container_types.h"
#include "common/error.h"
#include "manager/image_resolver.h"

namespace overmesh::manager {

struct PinnedImage {
  std::string image;                  // what the record holds
  std::vector<std::string> warnings;  // for the reply; empty when nothing went wrong
};

// `image` (as the user or the CLI gave it; "" = a process task, returned as is)
// normalised; with a digest already, kept. Otherwise, when `resolve` and `resolver` is
// not null, pinned to resolver->resolveDigest(); a failure (or a digest that is not
// "sha256:<64 hex>") leaves it unpinned with unresolvedImageWarning(). InvalidArgument
// naming --image when `image` is not a valid reference.
Result<PinnedImage> pinImage(std::string_view image, ImageResolver* resolver,
                             const api::RegistrySettings& settings, bool resolve);

// Docker's words for an image whose digest could not be recorded, then why.
std::string unresolvedImageWarning(std::string_view image, std::string_view reason);

}  // namespace overmesh::manager
