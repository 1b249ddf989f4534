#include "runtime/shim_protocol.h"

#include <algorithm>
#include <cerrno>
#include <charconv>

namespace overmesh::runtime {
namespace {

constexpr std::string_view kStartedPrefix = "started ";
constexpr std::string_view kErrorPrefix = "error ";

template <typename T>
bool parseNumber(std::string_view text, T& out) {
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), out);
  return error == std::errc() && end == text.data() + text.size();
}

}  // namespace

std::string encodeShimStarted(pid_t pid) { return fmt::format("{}{}\n", kStartedPrefix, pid); }

std::string encodeShimError(const Error& error) {
  std::string message = error.message;
  std::replace(message.begin(), message.end(), '\n', ' ');
  return fmt::format("{}{} {}\n", kErrorPrefix, errorKindName(error.kind), message);
}

Result<pid_t> decodeShimReport(std::string_view line, std::string_view shimPath) {
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) {
    line.remove_suffix(1);
  }
  if (line.starts_with(kStartedPrefix)) {
    pid_t pid = 0;
    if (parseNumber(line.substr(kStartedPrefix.size()), pid) && pid > 0) {
      return pid;
    }
  } else if (line.starts_with(kErrorPrefix)) {
    std::string_view rest = line.substr(kErrorPrefix.size());
    auto space = rest.find(' ');
    if (space != std::string_view::npos) {
      return makeError(errorKindFromName(rest.substr(0, space)),
                       std::string(rest.substr(space + 1)));
    }
  } else if (line.starts_with(kShimExecFailedPrefix)) {
    int error = 0;
    if (parseNumber(line.substr(kShimExecFailedPrefix.size()), error)) {
      return errorf(ErrorKind::Unavailable, "cannot execute the shim {}: {}", shimPath,
                    errnoText(error));
    }
  }
  return errorf(ErrorKind::Internal, "the shim reported \"{}\", which is not a report", line);
}

ErrorKind execFailureKind(int error) {
  switch (error) {
    case ENOENT:
    case EACCES:
    case ENOEXEC:
    case ENOTDIR:
    case ELOOP:
    case ENAMETOOLONG:
    case EISDIR:
    case EPERM:
      return ErrorKind::InvalidArgument;
    default:
      return ErrorKind::Unavailable;
  }
}

}  // namespace overmesh::runtime
