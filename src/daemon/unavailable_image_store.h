#pragma once

// The image store of a daemon that has no podman to drive (until the podman image store
// is wired in, or when it could not start): every call fails with Unavailable saying why,
// so `overmesh image …` and image tasks get a clear error instead of hanging, and process
// tasks are unaffected.

#include <string>
#include <utility>

#include "runtime/image_store.h"

namespace overmesh::daemon {

class UnavailableImageStore final : public runtime::ImageStore {
 public:
  explicit UnavailableImageStore(std::string why) : why_(std::move(why)) {}

  Result<bool> has(const std::string&) override { return unavailable(); }
  Status pull(const std::string&, const runtime::PullProgress&) override { return unavailable(); }
  Result<std::vector<runtime::ImageSummary>> list() override { return unavailable(); }
  Result<std::vector<std::string>> load(const std::string&) override { return unavailable(); }
  Status remove(const std::string&, bool) override { return unavailable(); }

 private:
  std::unexpected<Error> unavailable() const {
    return std::unexpected(Error{ErrorKind::Unavailable, "this node has no image store: " + why_});
  }

  std::string why_;
};

}  // namespace overmesh::daemon
