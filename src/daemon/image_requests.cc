#include "daemon/image_requests.h"

#include <algorithm>

#include "common/image_reference.h"
#include "common/quote.h"

namespace overmesh::daemon {

Result<std::vector<api::ImageInfo>> listImages(runtime::ImageStore& store) {
  auto images = store.list();
  if (!images) {
    return std::unexpected(images.error().withContext("image ls"));
  }
  std::vector<api::ImageInfo> infos;
  infos.reserve(images->size());
  for (const auto& image : *images) {
    infos.push_back({image.id, image.names, image.digests, image.sizeBytes, image.createdUnix});
  }
  std::stable_sort(infos.begin(), infos.end(), [](const auto& a, const auto& b) {
    if (a.names.empty() != b.names.empty()) {
      return b.names.empty();
    }
    return a.names.empty() ? a.id < b.id : a.names.front() < b.names.front();
  });
  return infos;
}

Result<api::ImagePullReply> pullImage(runtime::ImageStore& store,
                                      const api::ImagePullRequest& request,
                                      const std::atomic<bool>* cancel) {
  auto reference = parseImageReference(request.reference);
  if (!reference) {
    return std::unexpected(reference.error().withContext("image pull"));
  }
  std::string normalised = reference->toString();
  if (auto pulled = store.pull(normalised, [](const std::string&) {}, cancel); !pulled) {
    return std::unexpected(pulled.error().withContext("image pull " + normalised));
  }
  return api::ImagePullReply{normalised};
}

Result<api::ImageLoadReply> loadImage(runtime::ImageStore& store,
                                      const api::ImageLoadRequest& request) {
  const std::string& path = request.path;
  if (path.empty() || path.front() != '/' || path.size() > kMaxImagePath ||
      path.find('\0') != std::string::npos) {
    return errorf(ErrorKind::InvalidArgument,
                  "image load: path {}: expected an absolute path of an archive on the node "
                  "(at most {} bytes)",
                  quote(path), kMaxImagePath);
  }
  auto loaded = store.load(path);
  if (!loaded) {
    return std::unexpected(loaded.error().withContext("image load " + path));
  }
  return api::ImageLoadReply{std::move(*loaded)};
}

Status removeImage(runtime::ImageStore& store, std::string_view reference, bool force) {
  std::string target;
  if (isImageIdPrefix(reference)) {
    target = std::string(reference);
  } else {
    auto parsed = parseImageReference(reference);
    if (!parsed) {
      return std::unexpected(parsed.error().withContext("image rm"));
    }
    target = parsed->toString();
  }
  if (auto removed = store.remove(target, force); !removed) {
    return std::unexpected(removed.error().withContext("image rm " + target));
  }
  return {};
}

}  // namespace overmesh::daemon
