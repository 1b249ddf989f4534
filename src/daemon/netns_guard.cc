#include "daemon/netns_guard.h"

#include <net/if.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace overmesh::daemon {
namespace {

bool isNamedNamespace(const struct stat& self) {
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator("/run/netns", error)) {
    struct stat named {};
    if (stat(entry.path().c_str(), &named) == 0 && named.st_ino == self.st_ino &&
        named.st_dev == self.st_dev) {
      return true;
    }
  }
  return false;
}

bool hasOnlyLoopback() {
  struct if_nameindex* names = if_nameindex();
  if (names == nullptr) {
    return false;
  }
  bool onlyLoopback = true;
  for (struct if_nameindex* entry = names; entry->if_index != 0; ++entry) {
    if (std::strcmp(entry->if_name, "lo") != 0) {
      onlyLoopback = false;
    }
  }
  if_freenameindex(names);
  return onlyLoopback;
}

}  // namespace

Result<bool> inMachineNetworkNamespace() {
  struct stat self {};
  if (stat("/proc/self/ns/net", &self) != 0) {
    return errorf(ErrorKind::Unavailable, "stat /proc/self/ns/net: {}", errnoText(errno));
  }
  struct stat init {};
  if (stat("/proc/1/ns/net", &init) == 0) {
    return self.st_ino == init.st_ino && self.st_dev == init.st_dev;
  }
  return !isNamedNamespace(self) && !hasOnlyLoopback();
}

}  // namespace overmesh::daemon
