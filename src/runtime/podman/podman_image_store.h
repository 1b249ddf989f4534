#pragma once

// runtime::ImageStore over the node's podman service (podman_service.h): each call makes
// sure the service runs (starting it on first need), then uses a client of its own, so
// calls from several threads (concurrent pulls) do not share a connection.
//
// References are parsed and normalised (common/image_reference.h) before podman sees
// them; a pinned one is pulled and looked up by digest only (podman refuses both).

#include <cstdint>

#include "runtime/image_store.h"
#include "runtime/podman/podman_client.h"
#include "runtime/podman/podman_service.h"

namespace overmesh::runtime::podman {

// The largest archive `image load` accepts: bigger than any image a node should run, and
// small enough that a wrong file (a disk image) is refused before it is read.
inline constexpr std::uintmax_t kMaxImageArchiveBytes = std::uintmax_t{4} << 30;

class PodmanImageStore final : public ImageStore {
 public:
  // `service` must outlive the store.
  explicit PodmanImageStore(PodmanService& service);

  Result<bool> has(const std::string& reference) override;
  Status pull(const std::string& reference, const PullProgress& progress,
              const std::atomic<bool>* cancel = nullptr) override;
  Result<std::vector<ImageSummary>> list() override;
  // InvalidArgument when the file is missing, not a regular file, larger than
  // kMaxImageArchiveBytes or not an archive podman can read.
  Result<std::vector<std::string>> load(const std::string& archivePath) override;
  Status remove(const std::string& reference, bool force) override;

 private:
  Result<PodmanClient> client();

  PodmanService& service_;
};

}  // namespace overmesh::runtime::podman
