#pragma once

// `overmesh image ls` as Docker prints `docker images --digests`: one row per name an
// image is tagged with (REPOSITORY TAG DIGEST IMAGE ID CREATED SIZE), names shown the
// familiar way ("nginx" for docker.io/library/nginx), ages and sizes in Docker's words
// ("2 hours ago" by service_tables.h's humanDuration, "7.8MB"). Pure.

#include <cstdint>
#include <string>
#include <vector>

#include "api/image_types.h"

namespace overmesh::cli {

struct ImageRow {
  std::string repository;  // "<none>" for an image without a name
  std::string tag;         // "<none>" when untagged
  std::string digest;      // "sha256:…" as pulled, "<none>" when loaded or built here
  std::string id;          // the first 12 hex digits
  std::string created;     // "2 hours ago"
  std::string size;        // "7.8MB"
};

std::vector<ImageRow> imageRows(const std::vector<api::ImageInfo>& images, std::int64_t nowUnix);

// Decimal units with three significant digits, as Docker: "512B", "7.8MB", "142MB".
std::string humanSize(std::int64_t bytes);

}  // namespace overmesh::cli
