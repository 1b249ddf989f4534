#include "common/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>

namespace overmesh {
namespace {

std::unexpected<Error> stepFailed(std::string_view step, const std::string& path, int err) {
  return errorf(ErrorKind::Unavailable, "{} {}: {}", step, path, errnoText(err));
}

// The directory holding `path` ("." for a bare file name).
std::string directoryOf(const std::string& path) {
  std::string directory = std::filesystem::path(path).parent_path().string();
  return directory.empty() ? "." : directory;
}

Status writeAll(int fd, std::string_view content, const std::string& path) {
  std::size_t written = 0;
  while (written < content.size()) {
    ssize_t n = write(fd, content.data() + written, content.size() - written);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      return stepFailed("write", path, errno);
    }
    written += static_cast<std::size_t>(n);
  }
  return {};
}

// Makes a rename in `directory` durable. A directory that cannot be opened or synced is
// an error: the caller was promised the new content survives a crash.
Status syncDirectory(const std::string& directory) {
  int fd = open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    return stepFailed("open directory", directory, errno);
  }
  int synced = fsync(fd);
  int err = errno;
  close(fd);
  if (synced != 0) {
    return stepFailed("fsync directory", directory, err);
  }
  return {};
}

// Writes, syncs and closes the temporary file `fd`; always closes it.
Status fillTemporary(int fd, std::string_view content, mode_t mode, const std::string& path) {
  Status result = writeAll(fd, content, path);
  if (result && fchmod(fd, mode) != 0) {
    result = stepFailed("chmod", path, errno);
  }
  if (result && fsync(fd) != 0) {
    result = stepFailed("fsync", path, errno);
  }
  // close() can report a delayed write error (NFS); after fsync it rarely does, but a
  // failure still means the content may not be there.
  if (close(fd) != 0 && result) {
    result = stepFailed("close", path, errno);
  }
  return result;
}

}  // namespace

Status writeFileAtomically(const std::string& path, std::string_view content, mode_t mode) {
  // A unique name so that concurrent writers of one path never share a temporary file.
  std::string temporary = path + ".tmp-XXXXXX";
  int fd = mkostemp(temporary.data(), O_CLOEXEC);
  if (fd < 0) {
    return stepFailed("create", path + ".tmp-XXXXXX", errno);
  }
  if (auto filled = fillTemporary(fd, content, mode, temporary); !filled) {
    unlink(temporary.c_str());
    return filled;
  }
  if (rename(temporary.c_str(), path.c_str()) != 0) {
    int err = errno;
    unlink(temporary.c_str());
    return errorf(ErrorKind::Unavailable, "rename {} to {}: {}", temporary, path, errnoText(err));
  }
  return syncDirectory(directoryOf(path));
}

}  // namespace overmesh
