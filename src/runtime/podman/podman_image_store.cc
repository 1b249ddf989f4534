#include "runtime/podman/podman_image_store.h"

#include <chrono>
#include <filesystem>

#include "common/image_reference.h"

namespace overmesh::runtime::podman {
namespace {

// The progress callback is called at most this often (and once more at the end).
constexpr std::chrono::milliseconds kProgressInterval{250};

Result<std::string> podmanReference(const std::string& reference) {
  if (isImageIdPrefix(reference)) {
    return reference;
  }
  auto parsed = parseImageReference(reference);
  if (!parsed) {
    return std::unexpected(parsed.error());
  }
  return parsed->pullReference();
}

}  // namespace

PodmanImageStore::PodmanImageStore(PodmanService& service) : service_(service) {}

Result<PodmanClient> PodmanImageStore::client() {
  if (auto running = service_.ensureRunning(); !running) {
    return std::unexpected(running.error());
  }
  return PodmanClient::connect(service_.socketPath());
}

Result<bool> PodmanImageStore::has(const std::string& reference) {
  auto name = podmanReference(reference);
  if (!name) {
    return std::unexpected(name.error());
  }
  auto podman = client();
  if (!podman) {
    return std::unexpected(podman.error());
  }
  return podman->imageExists(*name);
}

Status PodmanImageStore::pull(const std::string& reference, const PullProgress& progress,
                              const std::atomic<bool>* cancel) {
  auto name = podmanReference(reference);
  if (!name) {
    return std::unexpected(name.error());
  }
  auto podman = client();
  if (!podman) {
    return std::unexpected(podman.error());
  }
  podman->setCancelFlag(cancel);
  auto last = std::chrono::steady_clock::time_point{};
  return podman->pullImage(*name, [&](const std::string& summary) {
    auto now = std::chrono::steady_clock::now();
    if (progress && (now - last >= kProgressInterval || summary == "done")) {
      last = now;
      progress(summary);
    }
  });
}

Result<std::vector<ImageSummary>> PodmanImageStore::list() {
  if (!service_.storageExists()) {
    return std::vector<ImageSummary>{};  // podman never ran here: no image can exist
  }
  auto podman = client();
  if (!podman) {
    return std::unexpected(podman.error());
  }
  return podman->listImages();
}

Result<std::vector<std::string>> PodmanImageStore::load(const std::string& archivePath) {
  std::error_code error;
  auto status = std::filesystem::status(archivePath, error);
  if (error || !std::filesystem::exists(status)) {
    return errorf(ErrorKind::InvalidArgument, "image archive {} does not exist on this node",
                  archivePath);
  }
  if (!std::filesystem::is_regular_file(status)) {
    return errorf(ErrorKind::InvalidArgument,
                  "image archive {} is not a regular file: give a `docker save` or OCI archive",
                  archivePath);
  }
  auto size = std::filesystem::file_size(archivePath, error);
  if (error || size > kMaxImageArchiveBytes) {
    return errorf(ErrorKind::InvalidArgument,
                  "image archive {} holds {} bytes: at most {} (4 GiB) can be loaded", archivePath,
                  error ? 0 : size, kMaxImageArchiveBytes);
  }
  auto podman = client();
  if (!podman) {
    return std::unexpected(podman.error());
  }
  return podman->loadImage(archivePath);
}

Status PodmanImageStore::remove(const std::string& reference, bool force) {
  auto name = podmanReference(reference);
  if (!name) {
    return std::unexpected(name.error());
  }
  auto podman = client();
  if (!podman) {
    return std::unexpected(podman.error());
  }
  return podman->removeImage(*name, force);
}

}  // namespace overmesh::runtime::podman
