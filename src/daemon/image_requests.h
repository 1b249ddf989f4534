#pragma once

// The node's `overmesh image` requests (api/image_types.h) over its image store: the
// user's references normalised as Docker does (common/image_reference.h) and checked
// before the store sees them, so that every refusal names the value and what would be
// valid. The local API's routes call these; the store's own errors pass through with
// their kind (NotFound, FailedPrecondition for an image in use, Unavailable for a
// registry or podman that cannot be reached).

#include <atomic>
#include <string_view>
#include <vector>

#include "api/image_types.h"
#include "common/error.h"
#include "runtime/image_store.h"

namespace overmesh::daemon {

// Longest path accepted for `image load`, as PATH_MAX.
inline constexpr std::size_t kMaxImagePath = 4096;

// Every image in the store, by name (images without a name last).
Result<std::vector<api::ImageInfo>> listImages(runtime::ImageStore& store);

// Pulls the image; blocks until the pull ends (minutes for a large image), or soon after
// `*cancel` turns true (may be null). InvalidArgument for a reference Docker would refuse.
Result<api::ImagePullReply> pullImage(runtime::ImageStore& store,
                                      const api::ImagePullRequest& request,
                                      const std::atomic<bool>* cancel = nullptr);

// Loads a `docker save` or OCI archive from a file on the node. InvalidArgument when the
// path is empty, relative, too long or holds a NUL.
Result<api::ImageLoadReply> loadImage(runtime::ImageStore& store,
                                      const api::ImageLoadRequest& request);

// Removes the image named by `reference` (a name, normalised) or by its ID (12 to 64 hex
// digits, passed as it is: podman takes an ID or a prefix of one).
Status removeImage(runtime::ImageStore& store, std::string_view reference, bool force);

}  // namespace overmesh::daemon
