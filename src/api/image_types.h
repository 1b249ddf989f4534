#pragma once

// The node's `overmesh image` requests on the local API (issue 10): what the CLI sends
// and what the daemon answers. Every route acts on the node whose socket the CLI talks to,
// in or out of a swarm.
//   GET    /v1/images                       -> [ImageInfo]
//   POST   /v1/images/pull {"reference"}    -> ImagePullReply, when the pull has ended
//   POST   /v1/images/load {"path"}         -> ImageLoadReply
//   DELETE /v1/images/{ref}?force=true|false -> {}

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

namespace overmesh::api {

struct ImageInfo {
  std::string id;                    // sha256 hex of the image's config
  std::vector<std::string> names;    // "registry/path:tag"
  std::vector<std::string> digests;  // "registry/path@sha256:…"
  std::int64_t sizeBytes = 0;
  std::int64_t createdUnix = 0;
  auto operator<=>(const ImageInfo&) const = default;
};

struct ImagePullRequest {
  std::string reference;  // as the user typed it; the daemon normalises it
};

struct ImagePullReply {
  std::string reference;  // normalised: what was pulled
};

struct ImageLoadRequest {
  std::string path;  // absolute, on the node (the CLI makes the user's path absolute)
};

struct ImageLoadReply {
  std::vector<std::string> loaded;  // the names the archive brought, or IDs when it had none
};

void to_json(nlohmann::json& json, const ImageInfo& value);
void from_json(const nlohmann::json& json, ImageInfo& value);
void to_json(nlohmann::json& json, const ImagePullRequest& value);
void from_json(const nlohmann::json& json, ImagePullRequest& value);
void to_json(nlohmann::json& json, const ImagePullReply& value);
void from_json(const nlohmann::json& json, ImagePullReply& value);
void to_json(nlohmann::json& json, const ImageLoadRequest& value);
void from_json(const nlohmann::json& json, ImageLoadRequest& value);
void to_json(nlohmann::json& json, const ImageLoadReply& value);
void from_json(const nlohmann::json& json, ImageLoadReply& value);

}  // namespace overmesh::api
