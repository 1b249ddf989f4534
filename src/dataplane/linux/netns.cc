#include "dataplane/linux/netns.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <thread>

namespace overmesh::dataplane::kernel {
namespace {

// Makes /run/netns exist and be a shared mount point, as iproute2 does: a namespace
// file bind-mounted below a shared mount is unmounted in every mount namespace at once
// when we delete it, so a task's private mount namespace cannot keep it alive.
Status ensureRunDir() {
  if (mkdir(kNetnsRunDir, 0755) != 0 && errno != EEXIST) {
    return errorf(ErrorKind::Unavailable, "create {}: {}", kNetnsRunDir, errnoText(errno));
  }
  bool boundOntoItself = false;
  while (mount("", kNetnsRunDir, "none", MS_SHARED | MS_REC, nullptr) != 0) {
    // EINVAL: not a mount point yet. Bind it onto itself once, then retry.
    if (errno != EINVAL || boundOntoItself) {
      return errorf(ErrorKind::Unavailable, "make {} a shared mount: {}", kNetnsRunDir,
                    errnoText(errno));
    }
    if (mount(kNetnsRunDir, kNetnsRunDir, "none", MS_BIND | MS_REC, nullptr) != 0) {
      return errorf(ErrorKind::Unavailable, "bind-mount {} onto itself: {}", kNetnsRunDir,
                    errnoText(errno));
    }
    boundOntoItself = true;
  }
  return {};
}

// Runs in a thread of its own, so that unshare() changes only that thread's namespace:
// makes a fresh network namespace and pins it by bind-mounting it onto `path`.
Status unshareAndPin(const std::string& path, std::string_view name) {
  if (unshare(CLONE_NEWNET) != 0) {
    return errorf(ErrorKind::Unavailable, "create network namespace \"{}\": unshare: {}", name,
                  errnoText(errno));
  }
  if (mount("/proc/thread-self/ns/net", path.c_str(), "none", MS_BIND, nullptr) != 0) {
    return errorf(ErrorKind::Unavailable, "create network namespace \"{}\": bind-mount onto {}: {}",
                  name, path, errnoText(errno));
  }
  return {};
}

}  // namespace

void UniqueFd::reset() {
  if (fd_ >= 0) {
    close(fd_);
    fd_ = -1;
  }
}

std::string namespacePath(std::string_view name) {
  return fmt::format("{}/{}", kNetnsRunDir, name);
}

Status validateNamespaceName(std::string_view name) {
  if (name.empty() || name.size() > 64 || name == "." || name == ".." ||
      name.find('/') != std::string_view::npos || name.find('\0') != std::string_view::npos) {
    return errorf(ErrorKind::InvalidArgument,
                  "\"{}\" is not a valid network namespace name: use 1-64 characters, no '/'",
                  name);
  }
  return {};
}

Status createNamespace(std::string_view name) {
  if (auto valid = validateNamespaceName(name); !valid) {
    return valid;
  }
  if (auto runDir = ensureRunDir(); !runDir) {
    return std::unexpected(
        runDir.error().withContext(fmt::format("create network namespace \"{}\"", name)));
  }
  std::string path = namespacePath(name);
  int fd = open(path.c_str(), O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
  if (fd < 0) {
    if (errno == EEXIST) {
      return errorf(ErrorKind::Conflict, "network namespace \"{}\" already exists ({})", name,
                    path);
    }
    return errorf(ErrorKind::Unavailable, "create network namespace \"{}\": create {}: {}", name,
                  path, errnoText(errno));
  }
  close(fd);

  Status pinned;
  std::thread worker([&pinned, &path, name] { pinned = unshareAndPin(path, name); });
  worker.join();
  if (!pinned) {
    // The mount did not happen (it is the last step), so the file is a plain file.
    unlink(path.c_str());
    return pinned;
  }
  return {};
}

Status deleteNamespace(std::string_view name) {
  if (auto valid = validateNamespaceName(name); !valid) {
    return valid;
  }
  std::string path = namespacePath(name);
  // EINVAL: not a mount point (a half-created namespace); ENOENT: already gone.
  if (umount2(path.c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT) {
    return errorf(ErrorKind::Unavailable, "delete network namespace \"{}\": unmount {}: {}", name,
                  path, errnoText(errno));
  }
  if (unlink(path.c_str()) != 0 && errno != ENOENT) {
    return errorf(ErrorKind::Unavailable, "delete network namespace \"{}\": remove {}: {}", name,
                  path, errnoText(errno));
  }
  return {};
}

bool namespaceExists(std::string_view name) {
  struct stat info {};
  return lstat(namespacePath(name).c_str(), &info) == 0;
}

Result<std::vector<std::string>> listNamespaces(std::string_view prefix) {
  std::vector<std::string> names;
  std::error_code error;
  std::filesystem::directory_iterator entries(kNetnsRunDir, error);
  if (error) {
    if (error == std::errc::no_such_file_or_directory) {
      return names;
    }
    return errorf(ErrorKind::Unavailable, "list {}: {}", kNetnsRunDir, error.message());
  }
  for (const auto& entry : entries) {
    std::string name = entry.path().filename().string();
    if (name.starts_with(prefix)) {
      names.push_back(std::move(name));
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

Result<UniqueFd> openNamespace(std::string_view name) {
  if (auto valid = validateNamespaceName(name); !valid) {
    return std::unexpected(valid.error());
  }
  std::string path = namespacePath(name);
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) {
      return errorf(ErrorKind::NotFound, "network namespace \"{}\" does not exist ({})", name,
                    path);
    }
    return errorf(ErrorKind::Unavailable, "open network namespace \"{}\" ({}): {}", name, path,
                  errnoText(errno));
  }
  return UniqueFd(fd);
}

Result<NamespaceId> namespaceIdOf(const std::string& path) {
  struct stat info {};
  if (stat(path.c_str(), &info) != 0) {
    if (errno == ENOENT) {
      return errorf(ErrorKind::NotFound, "namespace file {} does not exist", path);
    }
    return errorf(ErrorKind::Unavailable, "stat {}: {}", path, errnoText(errno));
  }
  return NamespaceId{info.st_dev, info.st_ino};
}

Result<NamespaceSwitch> NamespaceSwitch::enter(int namespaceFd, std::string_view what) {
  int original = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (original < 0) {
    return errorf(ErrorKind::Unavailable,
                  "enter network namespace \"{}\": save the current one: {}", what,
                  errnoText(errno));
  }
  UniqueFd saved(original);
  if (setns(namespaceFd, CLONE_NEWNET) != 0) {
    return errorf(ErrorKind::Unavailable, "enter network namespace \"{}\": setns: {}", what,
                  errnoText(errno));
  }
  return NamespaceSwitch(std::move(saved), std::string(what));
}

Result<NamespaceSwitch> NamespaceSwitch::enter(std::string_view name) {
  auto fd = openNamespace(name);
  if (!fd) {
    return std::unexpected(fd.error());
  }
  return enter(fd->get(), name);
}

NamespaceSwitch::~NamespaceSwitch() {
  if (!original_.valid()) {
    return;
  }
  if (setns(original_.get(), CLONE_NEWNET) != 0) {
    std::fprintf(stderr,
                 "fatal: cannot return from network namespace \"%s\" to the original one: %s\n",
                 what_.c_str(), errnoText(errno).c_str());
    std::abort();
  }
}

}  // namespace overmesh::dataplane::kernel
