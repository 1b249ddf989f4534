#include "api/image_types.h"

#include "common/json.h"

namespace overmesh::api {

using nlohmann::json;

void to_json(json& j, const ImageInfo& v) {
  j = json{{"id", v.id},
           {"names", v.names},
           {"digests", v.digests},
           {"sizeBytes", v.sizeBytes},
           {"createdUnix", v.createdUnix}};
}

void from_json(const json& j, ImageInfo& v) {
  readField(j, "id", v.id);
  readField(j, "names", v.names);
  readField(j, "digests", v.digests);
  readField(j, "sizeBytes", v.sizeBytes);
  readField(j, "createdUnix", v.createdUnix);
}

void to_json(json& j, const ImagePullRequest& v) { j = json{{"reference", v.reference}}; }

void from_json(const json& j, ImagePullRequest& v) { requireField(j, "reference", v.reference); }

void to_json(json& j, const ImagePullReply& v) { j = json{{"reference", v.reference}}; }

void from_json(const json& j, ImagePullReply& v) { readField(j, "reference", v.reference); }

void to_json(json& j, const ImageLoadRequest& v) { j = json{{"path", v.path}}; }

void from_json(const json& j, ImageLoadRequest& v) { requireField(j, "path", v.path); }

void to_json(json& j, const ImageLoadReply& v) { j = json{{"loaded", v.loaded}}; }

void from_json(const json& j, ImageLoadReply& v) { readField(j, "loaded", v.loaded); }

}  // namespace overmesh::api
