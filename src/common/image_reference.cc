#include "common/image_reference.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <vector>

namespace overmesh {

namespace {

constexpr std::string_view kDefaultDomain = "docker.io";
constexpr std::size_t kMaxNameLength = 255;  // distribution's NameTotalLengthMax

bool isLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// A path component: [a-z0-9]+ ((\.|_|__|-+)[a-z0-9]+)*
bool isPathComponent(std::string_view part) {
  if (part.empty() || !isLowerAlnum(part.front()) || !isLowerAlnum(part.back())) {
    return false;
  }
  for (std::size_t i = 0; i < part.size();) {
    if (isLowerAlnum(part[i])) {
      ++i;
      continue;
    }
    std::size_t start = i;
    while (i < part.size() && !isLowerAlnum(part[i])) {
      ++i;
    }
    std::string_view separator = part.substr(start, i - start);
    bool dashes = std::ranges::all_of(separator, [](char c) { return c == '-'; });
    if (separator != "." && separator != "_" && separator != "__" && !dashes) {
      return false;
    }
  }
  return true;
}

// A registry host: DNS labels or an IPv4 address, with an optional :port.
bool isDomain(std::string_view domain) {
  std::string_view host = domain;
  if (auto colon = domain.rfind(':'); colon != std::string_view::npos) {
    std::string_view port = domain.substr(colon + 1);
    if (port.empty() || port.size() > 5 ||
        !std::ranges::all_of(port, [](char c) { return c >= '0' && c <= '9'; })) {
      return false;
    }
    host = domain.substr(0, colon);
  }
  if (host.empty()) {
    return false;
  }
  std::size_t start = 0;
  while (start <= host.size()) {
    std::size_t dot = host.find('.', start);
    std::string_view label =
        host.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (label.empty() || label.front() == '-' || label.back() == '-' ||
        !std::ranges::all_of(label, [](char c) {
          return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-';
        })) {
      return false;
    }
    if (dot == std::string_view::npos) {
      break;
    }
    start = dot + 1;
  }
  return true;
}

bool isTag(std::string_view tag) {
  auto word = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_'; };
  if (tag.empty() || tag.size() > 128 || !word(tag.front())) {
    return false;
  }
  return std::ranges::all_of(tag, [&](char c) { return word(c) || c == '.' || c == '-'; });
}

Error invalid(std::string_view text, std::string_view why) {
  return Error{ErrorKind::InvalidArgument,
               fmt::format("invalid reference format: {} (in \"{}\"; expected "
                           "[REGISTRY[:PORT]/]NAME[:TAG][@sha256:DIGEST], e.g. nginx:1.25)",
                           why, text)};
}

}  // namespace

bool isImageDigest(std::string_view digest) {
  constexpr std::string_view kPrefix = "sha256:";
  if (!digest.starts_with(kPrefix) || digest.size() != kPrefix.size() + 64) {
    return false;
  }
  return std::ranges::all_of(digest.substr(kPrefix.size()), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
  });
}

bool isImageIdPrefix(std::string_view text) {
  return text.size() >= 12 && text.size() <= 64 &&
         std::ranges::all_of(text, [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

std::string ImageReference::name() const { return domain + "/" + path; }

std::string ImageReference::toString() const {
  std::string text = name();
  if (!tag.empty()) {
    text += ":" + tag;
  }
  if (!digest.empty()) {
    text += "@" + digest;
  }
  return text;
}

std::string ImageReference::pullReference() const {
  return digest.empty() ? name() + ":" + tag : name() + "@" + digest;
}

std::string ImageReference::familiar() const {
  std::string shown = name();
  if (domain == kDefaultDomain) {
    shown = path.starts_with("library/") && path.find('/', 8) == std::string::npos ? path.substr(8)
                                                                                   : path;
  }
  if (!tag.empty()) {
    shown += ":" + tag;
  } else if (!digest.empty()) {
    shown += "@" + digest;
  }
  return shown;
}

ImageReference ImageReference::withDigest(std::string pinned) const {
  ImageReference copy = *this;
  copy.digest = std::move(pinned);
  return copy;
}

Result<ImageReference> parseImageReference(std::string_view text) {
  if (text.empty()) {
    return std::unexpected(invalid(text, "the reference is empty"));
  }
  if (text.size() > 1024) {
    return errorf(ErrorKind::InvalidArgument,
                  "invalid reference format: {} characters (at most 1024)", text.size());
  }
  ImageReference reference;
  std::string_view rest = text;
  if (auto at = rest.find('@'); at != std::string_view::npos) {
    reference.digest = std::string(rest.substr(at + 1));
    rest = rest.substr(0, at);
    if (!isImageDigest(reference.digest)) {
      return std::unexpected(
          invalid(text, fmt::format("digest \"{}\" is not sha256: and 64 lowercase hex digits",
                                    reference.digest)));
    }
  }
  // A tag follows the last ':' after the last '/' (a ':' before it is a registry port).
  std::size_t slash = rest.rfind('/');
  std::size_t colon = rest.rfind(':');
  if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
    reference.tag = std::string(rest.substr(colon + 1));
    rest = rest.substr(0, colon);
    if (!isTag(reference.tag)) {
      return std::unexpected(
          invalid(text, fmt::format("tag \"{}\" is not 1-128 of [A-Za-z0-9_.-], starting with a "
                                    "letter, digit or '_'",
                                    reference.tag)));
    }
  }
  if (rest.empty()) {
    return std::unexpected(invalid(text, "the repository name is empty"));
  }
  std::string_view first = rest.substr(0, rest.find('/'));
  if (first.size() < rest.size() &&
      (first.find('.') != std::string_view::npos || first.find(':') != std::string_view::npos ||
       first == "localhost")) {
    if (!isDomain(first)) {
      return std::unexpected(
          invalid(text, fmt::format("registry \"{}\" is not HOST[:PORT]", first)));
    }
    reference.domain = std::string(first);
    rest = rest.substr(first.size() + 1);
  } else {
    reference.domain = std::string(kDefaultDomain);
  }
  if (std::ranges::any_of(rest, [](char c) { return c >= 'A' && c <= 'Z'; })) {
    return std::unexpected(invalid(text, "repository name must be lowercase"));
  }
  std::size_t start = 0;
  while (true) {
    std::size_t end = rest.find('/', start);
    std::string_view part = rest.substr(start, end == std::string_view::npos ? end : end - start);
    if (!isPathComponent(part)) {
      return std::unexpected(
          invalid(text, fmt::format("name component \"{}\" is not lowercase letters and digits "
                                    "separated by '.', '_', '__' or '-'",
                                    part)));
    }
    if (end == std::string_view::npos) {
      break;
    }
    start = end + 1;
  }
  reference.path = std::string(rest);
  if (reference.domain == kDefaultDomain && reference.path.find('/') == std::string::npos) {
    reference.path = "library/" + reference.path;
  }
  if (reference.name().size() > kMaxNameLength) {
    return std::unexpected(
        invalid(text, fmt::format("repository name is {} characters (at most {})",
                                  reference.name().size(), kMaxNameLength)));
  }
  if (reference.tag.empty() && reference.digest.empty()) {
    reference.tag = "latest";
  }
  return reference;
}

}  // namespace overmesh
