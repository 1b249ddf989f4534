#pragma once

// The node's image store seam (issue 10): what the agent and the node's `image` commands
// need of podman's image store, so that pulls, listing, loading and removal can be
// tested with a fake. The podman implementation is podman/podman_image_store.h.
//
// References are full, normalised ones (common/image_reference.h): "registry/path:tag",
// "registry/path@sha256:…" or "registry/path:tag@sha256:…" (the tag is then only shown;
// the digest is what is pulled and run).

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/error.h"

namespace overmesh::runtime {

struct ImageSummary {
  std::string id;                    // the image's ID (sha256 hex of its config)
  std::vector<std::string> names;    // "registry/path:tag", as tagged
  std::vector<std::string> digests;  // "registry/path@sha256:…", as pulled
  std::int64_t sizeBytes = 0;
  std::int64_t createdUnix = 0;  // seconds since the epoch
};

// Called while a pull runs, with a one-line summary of its progress ("2 of 3 layers,
// 1.2 MB"), at most a few times a second. Must not block.
using PullProgress = std::function<void(const std::string& summary)>;

class ImageStore {
 public:
  virtual ~ImageStore() = default;

  // Whether the image is in the store (by digest when the reference has one).
  virtual Result<bool> has(const std::string& reference) = 0;

  // Pulls the image (by digest when the reference has one). Fails with the registry's own
  // words in the message: NotFound ("manifest unknown", "not found"), Unauthenticated
  // ("pull access denied", "unauthorized"), Unavailable ("no route to registry",
  // connection refused, timeout). Blocks until done; several pulls may run at once from different
  // threads. `cancel` (may be null): a pull in flight ends soon after it turns true (Unavailable),
  // so that a daemon that stops does not wait minutes for a registry.
  virtual Status pull(const std::string& reference, const PullProgress& progress,
                      const std::atomic<bool>* cancel = nullptr) = 0;

  virtual Result<std::vector<ImageSummary>> list() = 0;

  // Loads a `docker save` or OCI archive from a file on the node; returns the names it
  // brought (or the image IDs when it had none).
  virtual Result<std::vector<std::string>> load(const std::string& archivePath) = 0;

  // Removes the image. FailedPrecondition when a container uses it and not `force`;
  // NotFound when it is not in the store.
  virtual Status remove(const std::string& reference, bool force) = 0;
};

}  // namespace overmesh::runtime
