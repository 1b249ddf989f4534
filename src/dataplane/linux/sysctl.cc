#include "dataplane/linux/sysctl.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "dataplane/linux/netns.h"

namespace overmesh::dataplane::kernel {

Status writeSysctl(std::string_view key, std::string_view value) {
  std::string path = fmt::format("/proc/sys/{}", key);
  UniqueFd fd(open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd.valid()) {
    int err = errno;
    return errorf(err == ENOENT ? ErrorKind::NotFound : ErrorKind::Unavailable, "set sysctl {}: {}",
                  key, errnoText(err));
  }
  ssize_t written = write(fd.get(), value.data(), value.size());
  if (written != static_cast<ssize_t>(value.size())) {
    return errorf(ErrorKind::Unavailable, "set sysctl {} to {}: {}", key, value,
                  written < 0 ? errnoText(errno) : std::string("short write"));
  }
  return {};
}

Status enableIpv4Forwarding() { return writeSysctl("net/ipv4/ip_forward", "1"); }

Status disableReversePathFilter(std::string_view device) {
  return writeSysctl(fmt::format("net/ipv4/conf/{}/rp_filter", device), "0");
}

}  // namespace overmesh::dataplane::kernel
