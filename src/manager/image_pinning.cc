#include "manager/image_pinning.h"

#include <fmt/format.h>

#include "common/quote.h"

namespace overmesh::manager {

std::string unresolvedImageWarning(std::string_view image, std::string_view reason) {
  return fmt::format(
      "image {0} could not be accessed on a registry to record its digest. Each node will "
      "access {0} independently, possibly leading to different nodes running different "
      "versions of the image. ({1})",
      image, reason);
}

Result<PinnedImage> pinImage(std::string_view image, ImageResolver* resolver,
                             const api::RegistrySettings& settings, bool resolve) {
  if (image.empty()) {
    return PinnedImage{};
  }
  auto reference = parseImageReference(image);
  if (!reference) {
    return std::unexpected(reference.error().withContext("--image"));
  }
  PinnedImage pinned{reference->toString(), {}};
  if (!reference->digest.empty() || !resolve || resolver == nullptr) {
    return pinned;
  }
  auto digest = resolver->resolveDigest(*reference, settings);
  if (digest && isImageDigest(*digest)) {
    pinned.image = reference->withDigest(*digest).toString();
    return pinned;
  }
  std::string reason = digest ? fmt::format(
                                    "the registry answered a digest that is not "
                                    "sha256:<64 hex>: {}",
                                    quote(*digest))
                              : digest.error().message;
  pinned.warnings.push_back(unresolvedImageWarning(reference->familiar(), reason));
  return pinned;
}

}  // namespace overmesh::manager
