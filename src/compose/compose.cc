#include "compose/compose.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <unordered_set>

#include "common/quote.h"
#include "compose/interpolation.h"
#include "compose/merge.h"
#include "compose/project_builder.h"
#include "compose/service_builder.h"

namespace overmesh::compose {
namespace {

// Each distinct line once, in the order found (a set makes it linear: a file may name
// thousands of unset variables), then at most kMaxWarningLines of them.
void finishWarnings(Warnings& warnings) {
  std::unordered_set<std::string> seen;
  Warnings kept;
  std::size_t dropped = 0;
  for (std::string& warning : warnings) {
    if (!seen.insert(warning).second) {
      continue;
    }
    if (kept.size() < kMaxWarningLines) {
      kept.push_back(std::move(warning));
    } else {
      ++dropped;
    }
  }
  if (dropped > 0) {
    kept.push_back(fmt::format("… and {} more warnings", dropped));
  }
  warnings = std::move(kept);
}

// Closes a file descriptor on every path out of the reader.
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  ~FileDescriptor() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

std::string_view fileTypeName(mode_t mode) {
  if (S_ISDIR(mode)) {
    return "a directory";
  }
  if (S_ISFIFO(mode)) {
    return "a FIFO";
  }
  if (S_ISCHR(mode) || S_ISBLK(mode)) {
    return "a device";
  }
  if (S_ISSOCK(mode)) {
    return "a socket";
  }
  return "not a regular file";
}

Result<std::string> readLocalFile(const std::string& path, std::size_t maxBytes) {
  // O_NONBLOCK: opening a FIFO with no writer would otherwise wait forever; fstat then
  // refuses it (and directories and devices) before anything is read.
  FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY));
  if (fd.get() < 0) {
    int err = errno;
    return errorf(err == ENOENT ? ErrorKind::NotFound : ErrorKind::InvalidArgument,
                  "cannot open {}: {}", printable(path), errnoText(err));
  }
  struct stat info {};
  if (::fstat(fd.get(), &info) != 0) {
    int err = errno;
    return errorf(ErrorKind::InvalidArgument, "cannot read {}: {}", printable(path),
                  errnoText(err));
  }
  if (!S_ISREG(info.st_mode)) {
    return errorf(ErrorKind::InvalidArgument, "{} is {}: a compose file is a regular file",
                  printable(path), fileTypeName(info.st_mode));
  }
  if (static_cast<std::size_t>(info.st_size) > maxBytes) {
    return errorf(ErrorKind::InvalidArgument, "{} is {} bytes: at most {} are read",
                  printable(path), info.st_size, maxBytes);
  }
  std::string text;
  text.resize(static_cast<std::size_t>(info.st_size) + 1);
  std::size_t filled = 0;
  while (true) {
    if (filled == text.size()) {
      if (text.size() > maxBytes) {
        // The file grew past the bound while being read.
        return errorf(ErrorKind::InvalidArgument, "{} is more than {} bytes: at most {} are read",
                      printable(path), maxBytes, maxBytes);
      }
      text.resize(std::min(text.size() * 2, maxBytes + 1));
    }
    ssize_t got = ::read(fd.get(), text.data() + filled, text.size() - filled);
    if (got < 0) {
      int err = errno;
      if (err == EINTR) {
        continue;
      }
      return errorf(ErrorKind::InvalidArgument, "cannot read {}: {}", printable(path),
                    errnoText(err));
    }
    if (got == 0) {
      break;
    }
    filled += static_cast<std::size_t>(got);
  }
  text.resize(filled);
  return text;
}

// loadMerged without finishWarnings: loadCompose adds the schema's warnings first.
Result<MergedCompose> readAndMerge(const std::vector<ComposeSource>& sources,
                                   const Environment& environment, const FileReader& readFile,
                                   const LoadLimits& limits) {
  if (sources.empty()) {
    return errorf(ErrorKind::InvalidArgument, "at least one compose file (-c FILE) is needed");
  }
  MergedCompose result;
  std::vector<Value> files;
  files.reserve(sources.size());
  for (const ComposeSource& source : sources) {
    std::string text;
    if (source.text) {
      text = *source.text;
    } else {
      auto read = readFile(source.path);
      if (!read) {
        return std::unexpected(read.error());
      }
      text = std::move(*read);
    }
    auto parsed = parseYaml(text, source.path, limits);
    if (!parsed) {
      return std::unexpected(parsed.error());
    }
    if (auto done = interpolate(*parsed, environment, result.warnings, limits); !done) {
      return std::unexpected(done.error());
    }
    files.push_back(std::move(*parsed));
  }
  auto merged = mergeFiles(std::move(files));
  if (!merged) {
    return std::unexpected(merged.error());
  }
  result.merged = std::move(*merged);
  return result;
}

}  // namespace

Result<MergedCompose> loadMerged(const std::vector<ComposeSource>& sources,
                                 const Environment& environment, const FileReader& readFile,
                                 const LoadLimits& limits) {
  auto merged = readAndMerge(sources, environment, readFile, limits);
  if (merged) {
    finishWarnings(merged->warnings);
  }
  return merged;
}

Result<LoadedCompose> loadCompose(const std::vector<ComposeSource>& sources,
                                  const Environment& environment, const FileReader& readFile,
                                  const LoadLimits& limits) {
  auto merged = readAndMerge(sources, environment, readFile, limits);
  if (!merged) {
    return std::unexpected(merged.error());
  }
  LoadedCompose loaded;
  Warnings schemaWarnings;
  auto project = buildProject(merged->merged, environment, readFile, schemaWarnings,
                              workingDirectory(sources.front().path));
  if (!project) {
    return std::unexpected(project.error());
  }
  loaded.merged = std::move(merged->merged);
  loaded.project = std::move(*project);
  loaded.warnings = std::move(merged->warnings);
  loaded.warnings.insert(loaded.warnings.end(), std::make_move_iterator(schemaWarnings.begin()),
                         std::make_move_iterator(schemaWarnings.end()));
  finishWarnings(loaded.warnings);
  return loaded;
}

std::string workingDirectory(const std::string& firstFile) { return composeDirectory(firstFile); }

FileReader localFileReader(std::size_t maxBytes) {
  return [maxBytes](const std::string& path) { return readLocalFile(path, maxBytes); };
}

}  // namespace overmesh::compose
