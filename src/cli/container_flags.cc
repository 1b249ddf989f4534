#include "cli/container_flags.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>
#include <string_view>
#include <utility>

#include "common/image_reference.h"
#include "common/quote.h"

namespace overmesh::cli {
namespace {

Result<std::string> checkedImage(const std::string& image) {
  auto reference = parseImageReference(image);
  if (!reference) {
    return std::unexpected(reference.error().withContext("--image"));
  }
  // Sent as typed: the manager normalises it (and pins its digest).
  return image;
}

Result<std::vector<std::string>> entrypointWords(const std::string& text) {
  auto words = splitShellWords("--entrypoint", text);
  if (!words) {
    return words;
  }
  for (std::size_t i = 0; i < words->size(); ++i) {
    if ((*words)[i].empty()) {
      return errorf(ErrorKind::InvalidArgument,
                    "--entrypoint {} is not valid: word {} is empty; give a program and its "
                    "arguments, e.g. --entrypoint \"/bin/sh -c\"",
                    quote(text), i + 1);
    }
  }
  return words;
}


Status checkHasImage(const api::ContainerSpec& spec) {
  if (spec.image.empty()) {
    if (auto flag = api::firstImageOnlyFlag(spec); !flag.empty()) {
      return errorf(ErrorKind::InvalidArgument,
                    "{} needs --image: a process task runs on the node's own filesystem", flag);
    }
  }
  return {};
}

// Adds `mount`, replacing one with the same target (Docker's --mount-add).
void putMount(std::vector<api::Mount>& mounts, api::Mount mount) {
  auto existing = std::find_if(mounts.begin(), mounts.end(),
                               [&](const api::Mount& m) { return m.target == mount.target; });
  if (existing == mounts.end()) {
    mounts.push_back(std::move(mount));
  } else {
    *existing = std::move(mount);
  }
}

// A target as the user may type it for --mount-rm: "/data/" names "/data".
std::string withoutTrailingSlash(std::string path) {
  while (path.size() > 1 && path.ends_with('/')) {
    path.pop_back();
  }
  return path;
}

}  // namespace

Result<bool> parseBoolFlag(const std::string& flag, const std::string& value) {
  if (value == "true" || value == "1") {
    return true;
  }
  if (value == "false" || value == "0") {
    return false;
  }
  return errorf(ErrorKind::InvalidArgument, "{} {} is not valid: use true or false", flag,
                quote(value));
}

Result<std::vector<std::string>> splitShellWords(const std::string& flag, const std::string& text) {
  std::vector<std::string> words;
  std::string word;
  bool inWord = false;  // a quote makes a word even when it holds nothing
  enum class Quote { None, Single, Double } quoteKind = Quote::None;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    switch (quoteKind) {
      case Quote::Single:
        if (c == '\'') {
          quoteKind = Quote::None;
        } else {
          word += c;
        }
        break;
      case Quote::Double:
        if (c == '"') {
          quoteKind = Quote::None;
        } else if (c == '\\' && i + 1 < text.size() &&
                   std::string_view("\"\\$`\n").find(text[i + 1]) != std::string_view::npos) {
          if (text[i + 1] != '\n') {
            word += text[i + 1];
          }
          ++i;
        } else {
          word += c;
        }
        break;
      case Quote::None:
        if (c == ' ' || c == '\t' || c == '\n') {
          if (inWord) {
            words.push_back(std::move(word));
            word.clear();
            inWord = false;
          }
        } else if (c == '\'') {
          quoteKind = Quote::Single;
          inWord = true;
        } else if (c == '"') {
          quoteKind = Quote::Double;
          inWord = true;
        } else if (c == '\\') {
          if (i + 1 == text.size()) {
            return errorf(ErrorKind::InvalidArgument,
                          "{} {} is not valid: it ends with a backslash that escapes nothing", flag,
                          quote(text));
          }
          if (text[i + 1] != '\n') {  // backslash-newline joins lines
            word += text[i + 1];
            inWord = true;
          }
          ++i;
        } else {
          word += c;
          inWord = true;
        }
        break;
    }
  }
  if (quoteKind != Quote::None) {
    return errorf(ErrorKind::InvalidArgument, "{} {} is not valid: a {} quote is not closed", flag,
                  quote(text), quoteKind == Quote::Single ? "single" : "double");
  }
  if (inWord) {
    words.push_back(std::move(word));
  }
  return words;
}

Result<api::Mount> parseMountFlag(const std::string& flag, const std::string& value) {
  auto invalid = [&](const std::string& why) {
    return errorf(ErrorKind::InvalidArgument,
                  "{} {} is not valid: {}; use type=bind|volume,source=S,target=T[,readonly]", flag,
                  quote(value), why);
  };
  api::Mount mount;
  std::set<std::string> seen;
  std::size_t start = 0;
  while (start <= value.size()) {
    std::size_t comma = value.find(',', start);
    std::string part =
        value.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    start = comma == std::string::npos ? value.size() + 1 : comma + 1;
    if (part.empty()) {
      return invalid("an entry between commas is empty");
    }
    auto equals = part.find('=');
    std::string key = part.substr(0, equals);
    std::optional<std::string> item;
    if (equals != std::string::npos) {
      item = part.substr(equals + 1);
    }
    std::string canonical = key;
    if (key == "src") {
      canonical = "source";
    } else if (key == "dst" || key == "destination") {
      canonical = "target";
    } else if (key == "ro") {
      canonical = "readonly";
    }
    if (!seen.insert(canonical).second) {
      return invalid(fmt::format("key {} is given twice", canonical));
    }
    if (canonical == "readonly") {
      if (!item) {
        mount.readOnly = true;
        continue;
      }
      auto readOnly = parseBoolFlag(fmt::format("{} key {}", flag, key), *item);
      if (!readOnly) {
        return std::unexpected(readOnly.error());
      }
      mount.readOnly = *readOnly;
      continue;
    }
    if (canonical != "type" && canonical != "source" && canonical != "target") {
      return invalid(fmt::format(
          "unknown key {} (known: type, source or src, target or dst or destination, readonly "
          "or ro)",
          quote(key)));
    }
    if (!item) {
      return invalid(fmt::format("key {} needs a value ({}=VALUE)", key, key));
    }
    if (canonical == "type") {
      if (*item != "bind" && *item != "volume") {
        return errorf(ErrorKind::InvalidArgument, "{} key type {} is not valid: use bind or volume",
                      flag, quote(*item));
      }
      mount.type = *item;
    } else if (canonical == "source") {
      mount.source = *item;
    } else {
      mount.target = *item;
    }
  }
  if (mount.target.empty()) {
    return invalid("key target is missing (the path inside the container)");
  }
  if (mount.type == "bind" && mount.source.empty()) {
    return invalid("a bind mount needs key source (the path on the node)");
  }
  return mount;
}

namespace {

// --image and --entrypoint, which create and update read alike: each given replaces.
Status applyImageAndEntrypoint(api::ContainerSpec& spec, const std::optional<std::string>& image,
                               const std::optional<std::string>& entrypoint) {
  if (image) {
    auto checked = checkedImage(*image);
    if (!checked) {
      return std::unexpected(checked.error());
    }
    spec.image = std::move(*checked);
  }
  if (entrypoint) {
    auto words = entrypointWords(*entrypoint);
    if (!words) {
      return std::unexpected(words.error());
    }
    spec.entrypoint = std::move(*words);
  }
  return {};
}

}  // namespace

Result<api::ContainerSpec> containerSpecFromFlags(const ContainerFlags& flags) {
  api::ContainerSpec spec;
  if (auto given = applyImageAndEntrypoint(spec, flags.image, flags.entrypoint); !given) {
    return std::unexpected(given.error());
  }
  spec.workdir = flags.workdir.value_or("");
  spec.user = flags.user.value_or("");
  for (const auto& value : flags.mounts) {
    auto mount = parseMountFlag("--mount", value);
    if (!mount) {
      return std::unexpected(mount.error());
    }
    spec.mounts.push_back(std::move(*mount));
  }
  spec.readOnly = flags.readOnly;
  spec.init = flags.init;
  spec.stopSignal = flags.stopSignal.value_or("");
  if (auto valid = checkHasImage(spec); !valid) {
    return std::unexpected(valid.error());
  }
  return spec;
}

Result<api::ContainerSpec> applyContainerUpdateFlags(const api::ContainerSpec& current,
                                                     const ContainerUpdateFlags& flags) {
  api::ContainerSpec spec = current;
  if (auto given = applyImageAndEntrypoint(spec, flags.image, flags.entrypoint); !given) {
    return std::unexpected(given.error());
  }
  if (flags.workdir) {
    spec.workdir = *flags.workdir;
  }
  if (flags.user) {
    spec.user = *flags.user;
  }
  for (const auto& target : flags.mountRm) {
    std::string wanted = withoutTrailingSlash(target);
    auto removed =
        std::erase_if(spec.mounts, [&](const api::Mount& mount) { return mount.target == wanted; });
    if (removed == 0) {
      std::vector<std::string> targets;
      for (const auto& mount : spec.mounts) {
        targets.push_back(mount.target);
      }
      return errorf(
          ErrorKind::InvalidArgument,
          "--mount-rm {} is not valid: the service mounts nothing there (its mount "
          "targets: {})",
          quote(target),
          targets.empty() ? std::string("none") : fmt::format("{}", fmt::join(targets, ", ")));
    }
  }
  for (const auto& value : flags.mountAdd) {
    auto mount = parseMountFlag("--mount-add", value);
    if (!mount) {
      return std::unexpected(mount.error());
    }
    putMount(spec.mounts, std::move(*mount));
  }
  if (flags.readOnly) {
    auto readOnly = parseBoolFlag("--read-only", *flags.readOnly);
    if (!readOnly) {
      return std::unexpected(readOnly.error());
    }
    spec.readOnly = *readOnly;
  }
  if (flags.init) {
    auto init = parseBoolFlag("--init", *flags.init);
    if (!init) {
      return std::unexpected(init.error());
    }
    spec.init = *init;
  }
  if (flags.stopSignal) {
    spec.stopSignal = *flags.stopSignal;
  }
  if (auto valid = checkHasImage(spec); !valid) {
    return std::unexpected(valid.error());
  }
  return spec;
}

}  // namespace overmesh::cli
