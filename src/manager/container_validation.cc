#include "manager/container_validation.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <csignal>
#include <filesystem>
#include <set>
#include <utility>

#include "common/image_reference.h"
#include "common/quote.h"
#include "manager/service_validation.h"

namespace overmesh::manager {
namespace {

struct SignalName {
  std::string_view name;  // without "SIG"
  int number;
};

// The signals a task may name to be stopped with: Linux's standard signals.
constexpr std::array kSignals{
    SignalName{"HUP", SIGHUP},       SignalName{"INT", SIGINT},       SignalName{"QUIT", SIGQUIT},
    SignalName{"ILL", SIGILL},       SignalName{"TRAP", SIGTRAP},     SignalName{"ABRT", SIGABRT},
    SignalName{"BUS", SIGBUS},       SignalName{"FPE", SIGFPE},       SignalName{"KILL", SIGKILL},
    SignalName{"USR1", SIGUSR1},     SignalName{"SEGV", SIGSEGV},     SignalName{"USR2", SIGUSR2},
    SignalName{"PIPE", SIGPIPE},     SignalName{"ALRM", SIGALRM},     SignalName{"TERM", SIGTERM},
    SignalName{"STKFLT", SIGSTKFLT}, SignalName{"CHLD", SIGCHLD},     SignalName{"CONT", SIGCONT},
    SignalName{"STOP", SIGSTOP},     SignalName{"TSTP", SIGTSTP},     SignalName{"TTIN", SIGTTIN},
    SignalName{"TTOU", SIGTTOU},     SignalName{"URG", SIGURG},       SignalName{"XCPU", SIGXCPU},
    SignalName{"XFSZ", SIGXFSZ},     SignalName{"VTALRM", SIGVTALRM}, SignalName{"PROF", SIGPROF},
    SignalName{"WINCH", SIGWINCH},   SignalName{"IO", SIGIO},         SignalName{"PWR", SIGPWR},
    SignalName{"SYS", SIGSYS},
};

// Files overmesh mounts into every container (the sandbox's names and resolver).
constexpr std::array<std::string_view, 3> kOwnedFiles{"/etc/hosts", "/etc/resolv.conf",
                                                      "/etc/hostname"};

constexpr std::size_t kMaxUserPart = 32;
constexpr std::uint64_t kMaxId = 4294967294ULL;  // (uid_t)-1 means "no change"

bool isDecimalDigit(char c) { return c >= '0' && c <= '9'; }
bool isLowerAscii(char c) { return c >= 'a' && c <= 'z'; }
bool isAsciiAlnum(char c) { return isDecimalDigit(c) || isLowerAscii(c) || (c >= 'A' && c <= 'Z'); }

// An absolute path with no NUL, at most kMaxContainerPath bytes, cleaned lexically
// ("/data/./x/" -> "/data/x"). `field` names it in errors.
Result<std::string> cleanAbsolutePath(std::string_view field, const std::string& path) {
  if (path.size() > kMaxContainerPath) {
    return errorf(ErrorKind::InvalidArgument,
                  "{} {} is not valid: it is {} bytes long; give an absolute path of at most {} "
                  "bytes",
                  field, quote(path), path.size(), kMaxContainerPath);
  }
  if (path.find('\0') != std::string::npos) {
    return errorf(ErrorKind::InvalidArgument,
                  "{} {} is not valid: it holds a NUL byte; give an absolute path", field,
                  quote(path));
  }
  if (!path.starts_with('/')) {
    return errorf(ErrorKind::InvalidArgument,
                  "{} {} is not valid: give an absolute path (starting with /), e.g. /data", field,
                  quote(path));
  }
  std::string cleaned = std::filesystem::path(path).lexically_normal().string();
  while (cleaned.size() > 1 && cleaned.ends_with('/')) {
    cleaned.pop_back();
  }
  return cleaned;
}

// A user or group name ([a-z_][a-z0-9_.-]{0,31}) or a numeric id up to kMaxId.
bool isUserPart(std::string_view part) {
  if (part.empty() || part.size() > kMaxUserPart) {
    return false;
  }
  if (std::all_of(part.begin(), part.end(), isDecimalDigit)) {
    std::uint64_t id = 0;
    auto [end, error] = std::from_chars(part.data(), part.data() + part.size(), id);
    return error == std::errc() && end == part.data() + part.size() && id <= kMaxId;
  }
  if (!isLowerAscii(part.front()) && part.front() != '_') {
    return false;
  }
  return std::all_of(part.begin(), part.end(), [](char c) {
    return isLowerAscii(c) || isDecimalDigit(c) || c == '_' || c == '.' || c == '-';
  });
}

Status checkUser(const std::string& user) {
  auto colon = user.find(':');
  std::string_view name = std::string_view(user).substr(0, colon);
  bool valid = isUserPart(name);
  if (colon != std::string::npos) {
    valid = valid && isUserPart(std::string_view(user).substr(colon + 1));
  }
  if (!valid) {
    return errorf(ErrorKind::InvalidArgument,
                  "--user {} is not valid: use NAME or UID, optionally :GROUP or :GID (names "
                  "[a-z_][a-z0-9_.-]{{0,31}}, ids up to {}), e.g. nobody or 1000:1000",
                  quote(user), kMaxId);
  }
  return {};
}

bool isVolumeName(std::string_view name) {
  if (name.empty() || name.size() > 255 || !isAsciiAlnum(name.front())) {
    return false;
  }
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return isAsciiAlnum(c) || c == '_' || c == '.' || c == '-'; });
}

Result<api::Mount> checkMount(const api::Mount& mount) {
  api::Mount checked = mount;
  if (mount.type != "bind" && mount.type != "volume") {
    return errorf(ErrorKind::InvalidArgument, "--mount type {} is not valid: use bind or volume",
                  quote(mount.type));
  }
  auto target = cleanAbsolutePath("--mount target", mount.target);
  if (!target) {
    return std::unexpected(target.error());
  }
  if (*target == "/") {
    return errorf(ErrorKind::InvalidArgument,
                  "--mount target {} is not valid: a mount cannot replace the container's root; "
                  "give a directory inside it, e.g. /data",
                  quote(mount.target));
  }
  if (std::find(kOwnedFiles.begin(), kOwnedFiles.end(), *target) != kOwnedFiles.end()) {
    return errorf(ErrorKind::InvalidArgument,
                  "--mount target {} is not valid: overmesh provides {} (the task's names and "
                  "DNS); choose another target",
                  quote(mount.target), *target);
  }
  checked.target = std::move(*target);
  if (mount.type == "bind") {
    if (mount.source.empty()) {
      return errorf(ErrorKind::InvalidArgument,
                    "--mount source \"\" is not valid for a bind mount (target {}): give the "
                    "absolute path on the node to mount",
                    quote(mount.target));
    }
    auto source = cleanAbsolutePath("--mount source", mount.source);
    if (!source) {
      return std::unexpected(source.error());
    }
    checked.source = std::move(*source);
  } else if (!mount.source.empty() && !isVolumeName(mount.source)) {
    return errorf(ErrorKind::InvalidArgument,
                  "--mount source {} is not valid for a volume: give a name of 1-255 letters, "
                  "digits, '_', '.' or '-' starting with a letter or digit, or leave it out for "
                  "an anonymous volume",
                  quote(mount.source));
  }
  return checked;
}

Status checkEntrypoint(const std::vector<std::string>& entrypoint) {
  if (entrypoint.size() > kMaxEntrypointWords) {
    return errorf(ErrorKind::InvalidArgument,
                  "--entrypoint is not valid: it has {} words; give at most {}", entrypoint.size(),
                  kMaxEntrypointWords);
  }
  std::size_t bytes = 0;
  for (const auto& word : entrypoint) {
    if (word.empty()) {
      return errorf(ErrorKind::InvalidArgument,
                    "--entrypoint is not valid: word {} of {} is empty; give non-empty words",
                    &word - entrypoint.data() + 1, entrypoint.size());
    }
    if (word.find('\0') != std::string::npos) {
      return errorf(ErrorKind::InvalidArgument,
                    "--entrypoint word {} is not valid: it holds a NUL byte", quote(word));
    }
    bytes += word.size();
  }
  if (bytes > kMaxEntrypointBytes) {
    return errorf(ErrorKind::InvalidArgument,
                  "--entrypoint is not valid: it is {} bytes long; give at most {}", bytes,
                  kMaxEntrypointBytes);
  }
  return {};
}

// The fields a process task may have too: hostname and container labels.
Status checkNamesAndLabels(const api::ContainerSpec& spec) {
  // Swarm expands Go templates such as {{.Task.Slot}} per task; overmesh does not (yet),
  // and a literal "{{" would only fail the DNS-name rule below with a misleading message.
  if (spec.hostname.find("{{") != std::string::npos) {
    return errorf(ErrorKind::InvalidArgument,
                  "--hostname {} is not valid: hostname templates ({{{{…}}}}) are not supported "
                  "yet: give a plain name",
                  quote(spec.hostname));
  }
  if (!spec.hostname.empty() && !isHostName(spec.hostname)) {
    return errorf(ErrorKind::InvalidArgument,
                  "--hostname {} is not valid: give a DNS name of at most {} bytes: "
                  "dot-separated labels of 1-63 letters, digits and '-', not starting or "
                  "ending with '-', e.g. web-1 or db.example.com",
                  quote(spec.hostname), kMaxHostname);
  }
  if (spec.labels.size() > kMaxContainerLabels) {
    return errorf(ErrorKind::InvalidArgument,
                  "--container-label is not valid: {} labels given; give at most {}",
                  spec.labels.size(), kMaxContainerLabels);
  }
  for (const auto& [key, value] : spec.labels) {
    if (key.empty() || key.size() > kMaxContainerLabelKey) {
      return errorf(ErrorKind::InvalidArgument,
                    "--container-label key {} is not valid: give a key of 1-{} bytes", quote(key),
                    kMaxContainerLabelKey);
    }
    if (value.size() > kMaxContainerLabelValue) {
      return errorf(ErrorKind::InvalidArgument,
                    "--container-label {} is not valid: its value is {} bytes long; give at "
                    "most {}",
                    quote(key), value.size(), kMaxContainerLabelValue);
    }
    if (key.find('\0') != std::string::npos || key.find('=') != std::string::npos ||
        value.find('\0') != std::string::npos) {
      return errorf(ErrorKind::InvalidArgument,
                    "--container-label {} is not valid: a key holds no '=' and no NUL byte, a "
                    "value no NUL byte",
                    quote(key));
    }
  }
  return {};
}

}  // namespace

Result<std::string> normaliseStopSignal(std::string_view signal) {
  std::string upper(signal.substr(0, 16));
  std::transform(upper.begin(), upper.end(), upper.begin(), [](char c) {
    return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c;
  });
  std::string_view name = upper;
  if (name.starts_with("SIG")) {
    name.remove_prefix(3);
  }
  bool numeric = !signal.empty() && signal.size() <= 3 &&
                 std::all_of(signal.begin(), signal.end(), isDecimalDigit);
  int number = 0;
  if (numeric) {
    std::from_chars(signal.data(), signal.data() + signal.size(), number);
  }
  if (signal.size() <= 16) {
    for (const auto& known : kSignals) {
      if ((numeric && known.number == number) || (!numeric && known.name == name)) {
        return fmt::format("SIG{}", known.name);
      }
    }
  }
  return errorf(ErrorKind::InvalidArgument,
                "--stop-signal {} is not valid: give a signal name or number, e.g. SIGTERM, "
                "TERM, SIGQUIT, SIGINT or 15",
                quote(signal));
}

Result<api::ContainerSpec> validateContainerSpec(const api::ContainerSpec& spec, bool hasCommand) {
  if (auto valid = checkNamesAndLabels(spec); !valid) {
    return std::unexpected(valid.error());
  }
  if (spec.image.empty()) {
    if (!hasCommand) {
      return errorf(ErrorKind::InvalidArgument,
                    "no image and no command: give --image IMAGE, or a command after --");
    }
    if (auto field = api::firstImageOnlyFlag(spec); !field.empty()) {
      return errorf(ErrorKind::InvalidArgument,
                    "{} needs --image: a process task runs on the node's own filesystem", field);
    }
    return spec;
  }
  api::ContainerSpec normalised = spec;
  auto image = parseImageReference(spec.image);
  if (!image) {
    return std::unexpected(image.error().withContext("--image"));
  }
  normalised.image = image->toString();
  if (auto valid = checkEntrypoint(spec.entrypoint); !valid) {
    return std::unexpected(valid.error());
  }
  if (!spec.workdir.empty()) {
    auto workdir = cleanAbsolutePath("--workdir", spec.workdir);
    if (!workdir) {
      return std::unexpected(workdir.error());
    }
    normalised.workdir = std::move(*workdir);
  }
  if (!spec.user.empty()) {
    if (auto valid = checkUser(spec.user); !valid) {
      return std::unexpected(valid.error());
    }
  }
  if (spec.mounts.size() > kMaxMounts) {
    return errorf(ErrorKind::InvalidArgument,
                  "--mount is not valid: {} mounts given; give at most {}", spec.mounts.size(),
                  kMaxMounts);
  }
  normalised.mounts.clear();
  std::set<std::string> targets;
  for (const auto& mount : spec.mounts) {
    auto checked = checkMount(mount);
    if (!checked) {
      return std::unexpected(checked.error());
    }
    if (!targets.insert(checked->target).second) {
      return errorf(ErrorKind::InvalidArgument,
                    "--mount target {} is not valid: another mount has the same target; give "
                    "each mount its own target",
                    quote(mount.target));
    }
    normalised.mounts.push_back(std::move(*checked));
  }
  if (!spec.stopSignal.empty()) {
    auto signal = normaliseStopSignal(spec.stopSignal);
    if (!signal) {
      return std::unexpected(signal.error());
    }
    normalised.stopSignal = std::move(*signal);
  }
  return normalised;
}

}  // namespace overmesh::manager
