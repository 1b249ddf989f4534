#include "cli/image_table.h"

#include <fmt/format.h>

#include <array>

#include "cli/service_tables.h"
#include "common/image_reference.h"
#include "common/quote.h"

namespace overmesh::cli {
namespace {

constexpr const char* kNone = "<none>";

std::string shortImageId(std::string_view id) {
  if (id.starts_with("sha256:")) {
    id.remove_prefix(7);
  }
  return printable(id.substr(0, 12));
}

// "registry/path:tag" -> {familiar repository, tag}; a name that does not parse (the
// daemon's text is not trusted) is shown as it is, escaped.
std::pair<std::string, std::string> repositoryAndTag(const std::string& name) {
  auto parsed = parseImageReference(name);
  if (!parsed) {
    return {printable(name), kNone};
  }
  std::string tag = parsed->tag.empty() ? kNone : parsed->tag;
  ImageReference repository = *parsed;
  repository.tag.clear();
  repository.digest.clear();
  return {repository.familiar(), tag};
}

// The digest pulled for `repository` (a full name), or <none>.
std::string digestFor(const api::ImageInfo& image, const std::string& name) {
  auto parsed = parseImageReference(name);
  for (const auto& digest : image.digests) {
    auto at = digest.find('@');
    if (at == std::string::npos) {
      continue;
    }
    if (parsed && digest.substr(0, at) == parsed->name()) {
      return printable(digest.substr(at + 1));
    }
  }
  return kNone;
}

}  // namespace

std::vector<ImageRow> imageRows(const std::vector<api::ImageInfo>& images, std::int64_t nowUnix) {
  std::vector<ImageRow> rows;
  for (const auto& image : images) {
    ImageRow base;
    base.id = shortImageId(image.id);
    base.created = image.createdUnix > 0
                       ? humanDuration((nowUnix - image.createdUnix) * 1000) + " ago"
                       : "N/A";
    base.size = humanSize(image.sizeBytes);
    if (image.names.empty()) {
      base.repository = kNone;
      base.tag = kNone;
      base.digest = kNone;
      if (!image.digests.empty()) {
        auto at = image.digests.front().find('@');
        base.repository = printable(image.digests.front().substr(0, at));
        if (auto parsed = parseImageReference(image.digests.front())) {
          ImageReference repository = *parsed;
          repository.tag.clear();
          repository.digest.clear();
          base.repository = repository.familiar();
          base.digest = parsed->digest;
        }
      }
      rows.push_back(base);
      continue;
    }
    for (const auto& name : image.names) {
      ImageRow row = base;
      std::tie(row.repository, row.tag) = repositoryAndTag(name);
      row.digest = digestFor(image, name);
      rows.push_back(std::move(row));
    }
  }
  return rows;
}

std::string humanSize(std::int64_t bytes) {
  static constexpr std::array<const char*, 7> kUnits = {"B", "kB", "MB", "GB", "TB", "PB", "EB"};
  double size = bytes < 0 ? 0.0 : static_cast<double>(bytes);
  std::size_t unit = 0;
  while (size >= 1000.0 && unit + 1 < kUnits.size()) {
    size /= 1000.0;
    ++unit;
  }
  return fmt::format("{:.3g}{}", size, kUnits[unit]);
}

}  // namespace overmesh::cli
