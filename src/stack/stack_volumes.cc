#include "stack/stack_volumes.h"

#include <fmt/format.h>

#include <algorithm>

#include "common/quote.h"
#include "stack/stack_errors.h"

namespace overmesh::stack {
namespace {

const compose::VolumeDeclaration* declaredVolume(const compose::Project& project,
                                                 const std::string& key) {
  auto found =
      std::find_if(project.volumes.begin(), project.volumes.end(),
                   [&](const compose::VolumeDeclaration& entry) { return entry.key == key; });
  return found == project.volumes.end() ? nullptr : &*found;
}

Result<std::string> bindSource(const compose::VolumeEntry& entry, const compose::Service& service,
                               const std::string& workingDirectory,
                               const std::string& homeDirectory, const std::string& path) {
  const std::string& source = entry.source;
  if (source.empty()) {
    return convertError(entry.mark, path,
                        "a bind mount needs a source: write the host path, e.g. "
                        "./site:/usr/share/nginx/html");
  }
  if (source == "~" || source.starts_with("~/")) {
    // Docker expands ~ with the deploying user's home; the path then has to exist on the
    // node that runs the task, as any bind source does.
    if (homeDirectory.empty() || homeDirectory.front() != '/') {
      return convertError(entry.mark, path,
                          "the bind source {}: ~ is the deploying user's home, which is not "
                          "known here ($HOME is not set to an absolute path): write an "
                          "absolute path",
                          quote(source));
    }
    return normaliseAbsolutePath(homeDirectory + "/" + source.substr(1));
  }
  if (source.front() == '/') {
    return normaliseAbsolutePath(source);
  }
  // Compose resolves a relative source against the directory of the file that declared
  // the service, which the loader names as the `-c` argument did (relative to the CLI's
  // working directory).
  std::string directory = service.directory.empty() ? "." : service.directory;
  if (directory.front() != '/') {
    if (workingDirectory.empty() || workingDirectory.front() != '/') {
      return convertError(entry.mark, path,
                          "the bind source {} is relative, and the file's directory {} is not "
                          "absolute: write an absolute path",
                          quote(source), quote(directory));
    }
    directory = workingDirectory + "/" + directory;
  }
  return normaliseAbsolutePath(directory + "/" + source);
}

std::string volumeSource(const compose::VolumeEntry& entry, const compose::Project& project,
                         const std::string& stack) {
  if (entry.source.empty()) {
    return std::string();  // anonymous: podman names it
  }
  // The schema refuses an undeclared named volume; a Project built by hand gets Docker's
  // name for it.
  const compose::VolumeDeclaration* declared = declaredVolume(project, entry.source);
  if (declared == nullptr) {
    return fmt::format("{}_{}", stack, entry.source);
  }
  if (!declared->name.empty()) {
    return declared->name;
  }
  if (declared->external) {
    return declared->key;
  }
  return fmt::format("{}_{}", stack, declared->key);
}

}  // namespace

std::string normaliseAbsolutePath(const std::string& path) {
  std::vector<std::string> segments;
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string::npos) {
      end = path.size();
    }
    std::string segment = path.substr(start, end - start);
    if (segment == "..") {
      if (!segments.empty()) {
        segments.pop_back();
      }
    } else if (!segment.empty() && segment != ".") {
      segments.push_back(std::move(segment));
    }
    start = end + 1;
  }
  return "/" + fmt::format("{}", fmt::join(segments, "/"));
}

Result<std::vector<api::Mount>> convertVolumes(const compose::Service& service,
                                               const compose::Project& project,
                                               const std::string& stack,
                                               const std::string& workingDirectory,
                                               const std::string& homeDirectory) {
  std::vector<api::Mount> mounts;
  for (std::size_t i = 0; i < service.volumes.size(); ++i) {
    const compose::VolumeEntry& entry = service.volumes[i];
    const std::string path = fmt::format("services.{}.volumes[{}]", service.key, i);
    api::Mount mount;
    mount.target = entry.target;
    mount.readOnly = entry.readOnly;
    if (entry.type == "bind") {
      auto source = bindSource(entry, service, workingDirectory, homeDirectory, path);
      if (!source) {
        return std::unexpected(source.error());
      }
      mount.type = "bind";
      mount.source = std::move(*source);
    } else if (entry.type == "volume") {
      mount.type = "volume";
      mount.source = volumeSource(entry, project, stack);
    } else if (entry.type == "tmpfs") {
      return convertError(entry.mark, path,
                          "tmpfs volumes are not supported yet: use a named volume or a bind "
                          "mount");
    } else {
      return convertError(entry.mark, path + ".type", "{} is not valid: use bind or volume",
                          quote(entry.type));
    }
    mounts.push_back(std::move(mount));
  }
  return mounts;
}

}  // namespace overmesh::stack
