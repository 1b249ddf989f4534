#include "dataplane/linux/nftables.h"

#include <linux/netlink.h>
#include <nftables/libnftables.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <optional>

namespace overmesh::dataplane::kernel {
namespace {

// nft's families; anything else is refused before it reaches the parser.
constexpr std::array<std::string_view, 6> kFamilies = {"ip",  "ip6",    "inet",
                                                       "arp", "bridge", "netdev"};

Status checkFamilyAndTable(std::string_view family, std::string_view table) {
  bool knownFamily = false;
  for (auto known : kFamilies) {
    knownFamily = knownFamily || known == family;
  }
  if (!knownFamily) {
    return errorf(ErrorKind::InvalidArgument,
                  "\"{}\" is not an nftables family: use ip, ip6, inet, arp, bridge or netdev",
                  family);
  }
  bool identifier = !table.empty() && table.size() <= 64 &&
                    ((table[0] >= 'a' && table[0] <= 'z') || (table[0] >= 'A' && table[0] <= 'Z'));
  for (char c : table) {
    identifier = identifier && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                                (c >= '0' && c <= '9') || c == '_' || c == '-');
  }
  if (!identifier) {
    return errorf(ErrorKind::InvalidArgument,
                  "\"{}\" is not an nftables table name: use a letter, then letters, digits, "
                  "'_' or '-' (at most 64)",
                  table);
  }
  return {};
}

// nft reports kernel refusals with the errno text; map the few that mean something to a
// caller. Everything else in a failed script is the script's fault.
ErrorKind kindOfNftMessage(std::string_view message) {
  auto mentions = [message](int err) {
    return message.find(errnoText(err)) != std::string_view::npos;
  };
  if (mentions(ENOENT)) {
    return ErrorKind::NotFound;
  }
  if (mentions(EEXIST) || mentions(EBUSY)) {
    return ErrorKind::Conflict;
  }
  if (mentions(EPERM) || mentions(EACCES) || mentions(ENOBUFS) || mentions(ENOMEM)) {
    return ErrorKind::Unavailable;
  }
  return ErrorKind::InvalidArgument;
}

// nft's messages end with a newline and often carry a caret line; keep them, minus the
// trailing whitespace.
std::string trimmed(const char* text) {
  std::string result = text != nullptr ? text : "";
  while (!result.empty() && (result.back() == '\n' || result.back() == ' ')) {
    result.pop_back();
  }
  return result;
}

std::string describe(const std::string& namespaceName) {
  return namespaceName.empty() ? "the current namespace"
                               : fmt::format("namespace \"{}\"", namespaceName);
}

// Opens and closes a netfilter netlink socket, as nft_ctx_new() is about to. libnftables
// calls exit() when that fails, so find out first.
Status probeNetfilterSocket(const std::string& namespaceName) {
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
  if (fd < 0) {
    return errorf(ErrorKind::Unavailable, "nftables: open a netfilter socket in {}: {}",
                  describe(namespaceName), errnoText(errno));
  }
  close(fd);
  return {};
}

void replaceAll(std::string& text, const std::string& from, const std::string& to) {
  for (std::size_t at = text.find(from); at != std::string::npos;
       at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
}

// A script in an anonymous memory file, readable by path (/proc/self/fd/N) while it lives.
class ScriptFile {
 public:
  // Nullopt when no memory file can be made; the caller then runs the script from a buffer.
  static std::optional<ScriptFile> write(std::string_view script) {
    UniqueFd fd(memfd_create("overmesh-nft", MFD_CLOEXEC));
    if (!fd.valid()) {
      return std::nullopt;
    }
    std::size_t written = 0;
    while (written < script.size()) {
      ssize_t now = ::write(fd.get(), script.data() + written, script.size() - written);
      if (now < 0 && errno == EINTR) {
        continue;
      }
      if (now <= 0) {
        return std::nullopt;
      }
      written += static_cast<std::size_t>(now);
    }
    std::string path = fmt::format("/proc/self/fd/{}", fd.get());
    return ScriptFile(std::move(fd), std::move(path));
  }

  const std::string& path() const { return path_; }

 private:
  ScriptFile(UniqueFd fd, std::string path) : fd_(std::move(fd)), path_(std::move(path)) {}

  UniqueFd fd_;
  std::string path_;
};

}  // namespace

void Nftables::ContextDeleter::operator()(nft_ctx* ctx) const { nft_ctx_free(ctx); }

Nftables::Nftables(UniqueFd namespaceFd, std::string namespaceName, ContextPtr ctx)
    : namespaceFd_(std::move(namespaceFd)),
      namespaceName_(std::move(namespaceName)),
      ctx_(std::move(ctx)) {}

Nftables::~Nftables() = default;
Nftables::Nftables(Nftables&&) noexcept = default;
Nftables& Nftables::operator=(Nftables&&) noexcept = default;

Result<Nftables> Nftables::open(std::string_view namespaceName) {
  UniqueFd namespaceFd;
  std::optional<NamespaceSwitch> inside;
  std::string name(namespaceName);
  if (!namespaceName.empty()) {
    auto fd = openNamespace(namespaceName);
    if (!fd) {
      return std::unexpected(fd.error().withContext("nftables"));
    }
    namespaceFd = std::move(*fd);
    auto entered = NamespaceSwitch::enter(namespaceFd.get(), namespaceName);
    if (!entered) {
      return std::unexpected(entered.error().withContext("nftables"));
    }
    inside.emplace(std::move(*entered));
  }
  if (auto probe = probeNetfilterSocket(name); !probe) {
    return std::unexpected(probe.error());
  }
  ContextPtr ctx;
  {
    // nft_ctx_new() initialises library globals on first use without a lock.
    static std::mutex creation;
    std::lock_guard lock(creation);
    ctx.reset(nft_ctx_new(NFT_CTX_DEFAULT));
  }
  if (!ctx) {
    return errorf(ErrorKind::Unavailable, "nftables: create a context in {}: out of memory",
                  describe(name));
  }
  if (nft_ctx_buffer_output(ctx.get()) != 0 || nft_ctx_buffer_error(ctx.get()) != 0) {
    return errorf(ErrorKind::Unavailable, "nftables: buffer the output of a context in {}",
                  describe(name));
  }
  return Nftables(std::move(namespaceFd), std::move(name), std::move(ctx));
}

Result<std::string> Nftables::execute(std::string_view commands, bool json,
                                      std::string_view operation) {
  std::optional<NamespaceSwitch> inside;
  if (namespaceFd_.valid()) {
    auto entered = NamespaceSwitch::enter(namespaceFd_.get(), namespaceName_);
    if (!entered) {
      return std::unexpected(entered.error().withContext(operation));
    }
    inside.emplace(std::move(*entered));
  }
  unsigned int flags = nft_ctx_output_get_flags(ctx_.get());
  unsigned int wanted = json ? (flags | NFT_CTX_OUTPUT_JSON) : (flags & ~NFT_CTX_OUTPUT_JSON);
  nft_ctx_output_set_flags(ctx_.get(), wanted);
  // Reading a buffer rewinds it: drop whatever an earlier call left behind.
  nft_ctx_get_output_buffer(ctx_.get());
  nft_ctx_get_error_buffer(ctx_.get());
  int result = 0;
  std::string errors;
  // nft 1.0.6 quotes the first line of a buffer under the caret whatever line the error is
  // on; from a file it names and quotes the right line. So the script goes through a
  // memory file, and its /proc path is rewritten to "line" in messages.
  if (auto script = ScriptFile::write(commands)) {
    result = nft_run_cmd_from_filename(ctx_.get(), script->path().c_str());
    errors = trimmed(nft_ctx_get_error_buffer(ctx_.get()));
    replaceAll(errors, script->path() + ":", "line ");
  } else {
    std::string text(commands);
    result = nft_run_cmd_from_buffer(ctx_.get(), text.c_str());
    errors = trimmed(nft_ctx_get_error_buffer(ctx_.get()));
  }
  std::string output = nft_ctx_get_output_buffer(ctx_.get());
  nft_ctx_output_set_flags(ctx_.get(), flags);
  if (result != 0) {
    if (errors.empty()) {
      errors = "nft failed without a message";
    }
    return makeError(kindOfNftMessage(errors),
                     fmt::format("{} in {}: {}", operation, describe(namespaceName_), errors));
  }
  return output;
}

Status Nftables::run(std::string_view commands) {
  auto output = execute(commands, false, "nftables: apply rule set");
  if (!output) {
    return std::unexpected(output.error());
  }
  return {};
}

Result<std::string> Nftables::listTableJson(std::string_view family, std::string_view table) {
  if (auto valid = checkFamilyAndTable(family, table); !valid) {
    return std::unexpected(valid.error());
  }
  return execute(fmt::format("list table {} {}", family, table), true,
                 fmt::format("nftables: list table {} {}", family, table));
}

Result<std::string> Nftables::listRulesetJson() {
  return execute("list ruleset", true, "nftables: list ruleset");
}

Status Nftables::deleteTableIfExists(std::string_view family, std::string_view table) {
  if (auto valid = checkFamilyAndTable(family, table); !valid) {
    return valid;
  }
  auto output = execute(fmt::format("table {0} {1}\ndelete table {0} {1}\n", family, table), false,
                        fmt::format("nftables: delete table {} {}", family, table));
  if (!output) {
    return std::unexpected(output.error());
  }
  return {};
}

}  // namespace overmesh::dataplane::kernel
