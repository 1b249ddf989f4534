#pragma once

// Image references as Docker reads them (distribution's reference grammar), normalised
// the way Docker does, so that "nginx", "nginx:1.25" and "docker.io/library/nginx:1.25"
// name one image on every node and in every record:
//   - no registry (the first component has no '.' or ':' and is not "localhost"):
//     docker.io; a single component on docker.io gets "library/";
//   - neither tag nor digest: the tag "latest".
// Pure; used by the CLI (to check flags), the manager (to record and pin) and the node
// (to pull by digest).

#include <string>
#include <string_view>

#include "common/error.h"

namespace overmesh {

struct ImageReference {
  std::string domain;  // "docker.io", "198.18.0.101:5000", "localhost"
  std::string path;    // "library/nginx"
  std::string tag;     // "1.25"; empty only when there is a digest and no tag was given
  std::string digest;  // "sha256:<64 lowercase hex>", or empty

  // domain/path
  std::string name() const;
  // domain/path[:tag][@digest]: what records hold.
  std::string toString() const;
  // What a registry is asked for: domain/path@digest when pinned, else domain/path:tag
  // (podman and skopeo refuse a reference with both).
  std::string pullReference() const;
  // As Docker shows it: "nginx:1.25" for docker.io/library/nginx:1.25, "user/app:1" for
  // docker.io/user/app:1, the full name otherwise (the digest, when pinned, is left out).
  std::string familiar() const;
  // The same reference pinned to `digest` (keeps the tag for display).
  ImageReference withDigest(std::string digest) const;

  auto operator<=>(const ImageReference&) const = default;
};

// Parses and normalises `text`. InvalidArgument quoting the text and saying what is wrong
// (Docker's words: "invalid reference format: repository name must be lowercase"), for:
// an empty text, more than 255 characters of name, upper case in the name, a bad
// component, tag ([A-Za-z0-9_][A-Za-z0-9_.-]{0,127}) or digest (sha256 with 64 hex).
Result<ImageReference> parseImageReference(std::string_view text);

// Whether `digest` is "sha256:" followed by 64 lowercase hex digits.
bool isImageDigest(std::string_view digest);

// Whether `text` is an image ID or a prefix of one that `image rm` and podman accept (12 to
// 64 lowercase hex digits): such a text names an image as it is, not a reference.
bool isImageIdPrefix(std::string_view text);

}  // namespace overmesh
