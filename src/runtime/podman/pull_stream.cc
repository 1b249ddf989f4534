#include "runtime/podman/pull_stream.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

namespace overmesh::runtime::podman {
namespace {

bool contains(std::string_view text, std::string_view what) {
  auto lower = [](char c) {
    return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  };
  auto found = std::search(text.begin(), text.end(), what.begin(), what.end(),
                           [&](char a, char b) { return lower(a) == lower(b); });
  return found != text.end();
}

std::string trimmed(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
    text.remove_suffix(1);
  }
  return std::string(text);
}

}  // namespace

bool PullStreamParser::feed(std::string_view bytes) {
  bool changed = false;
  while (!bytes.empty()) {
    auto newline = bytes.find('\n');
    std::string_view piece = bytes.substr(0, newline);
    if (!skipping_) {
      if (pending_.size() + piece.size() > kMaxPullLine) {
        skipping_ = true;
        pending_.clear();
      } else {
        pending_.append(piece);
      }
    }
    if (newline == std::string_view::npos) {
      break;
    }
    if (!skipping_) {
      changed = line(pending_) || changed;
    }
    pending_.clear();
    skipping_ = false;
    bytes.remove_prefix(newline + 1);
  }
  return changed;
}

bool PullStreamParser::finish() {
  bool changed = !skipping_ && !pending_.empty() && line(pending_);
  pending_.clear();
  skipping_ = false;
  return changed;
}

bool PullStreamParser::setSummary(std::string summary) {
  if (summary == summary_) {
    return false;
  }
  summary_ = std::move(summary);
  return true;
}

bool PullStreamParser::line(std::string_view text) {
  auto json = nlohmann::json::parse(text, nullptr, false);
  if (!json.is_object()) {
    return false;
  }
  if (auto error = json.find("error");
      error != json.end() && error->is_string() && !error->get_ref<const std::string&>().empty()) {
    error_ = trimmed(error->get_ref<const std::string&>().substr(0, kMaxPullError));
    return false;
  }
  if (auto id = json.find("id"); id != json.end() && id->is_string()) {
    imageId_ = id->get<std::string>().substr(0, 128);
    return setSummary("done");
  }
  auto stream = json.find("stream");
  if (stream == json.end() || !stream->is_string()) {
    return false;
  }
  std::string_view message = stream->get_ref<const std::string&>();
  constexpr std::string_view kBlob = "Copying blob ";
  if (message.starts_with(kBlob)) {
    std::string_view rest = message.substr(kBlob.size());
    std::string blob(rest.substr(0, std::min(rest.find_first_of(" \n"), std::size_t{80})));
    if (blobs_.size() < 1000) {
      blobs_.insert(blob);
    }
    if (contains(rest, "done") || contains(rest, "skipped")) {
      blobsDone_.insert(blob);
    }
    return setSummary(
        fmt::format("copying layers: {} of {} done", blobsDone_.size(), blobs_.size()));
  }
  if (message.starts_with("Copying config")) {
    return setSummary(fmt::format("copying config ({} layers)", blobs_.size()));
  }
  if (message.starts_with("Writing manifest")) {
    return setSummary("writing manifest");
  }
  if (message.starts_with("Storing signatures")) {
    return setSummary("storing");
  }
  return false;
}

std::string pullErrorSummary(std::string_view chain) {
  std::string_view trimmed = chain;
  while (!trimmed.empty() && (trimmed.back() == ' ' || trimmed.back() == '\n')) {
    trimmed.remove_suffix(1);
  }
  auto separator = trimmed.rfind(": ");
  if (separator == std::string_view::npos || separator + 2 >= trimmed.size()) {
    return std::string(trimmed);
  }
  return fmt::format("{} ({})", trimmed.substr(separator + 2), trimmed);
}

ErrorKind pullErrorKind(std::string_view message) {
  if (contains(message, "manifest unknown") || contains(message, "not found") ||
      contains(message, "name unknown") || contains(message, "no such image")) {
    return ErrorKind::NotFound;
  }
  if (contains(message, "unauthorized") || contains(message, "denied") ||
      contains(message, "authentication required")) {
    return ErrorKind::Unauthenticated;
  }
  if (contains(message, "invalid reference format") || contains(message, "parsing reference")) {
    return ErrorKind::InvalidArgument;
  }
  return ErrorKind::Unavailable;
}

}  // namespace overmesh::runtime::podman
