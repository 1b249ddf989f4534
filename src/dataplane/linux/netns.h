#pragma once

// Named network namespaces, made the way iproute2 makes them so that `ip netns` and
// overmesh see the same ones: a namespace is kept alive by bind-mounting its nsfs file
// onto /run/netns/<name>, and /run/netns is a shared mount so that mount namespaces created
// later (by tasks) see removals and do not pin a deleted namespace.
//
// Everything here needs CAP_SYS_ADMIN (mount, setns); failures carry the errno text and
// the namespace's name. Nothing here touches links or addresses: that is netlink.h.

#include <sys/types.h>

#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "common/error.h"

namespace overmesh::dataplane::kernel {

// Where iproute2 (and we) keep named network namespaces.
inline constexpr const char* kNetnsRunDir = "/run/netns";

// An owned file descriptor, closed on destruction. -1 means "none".
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { reset(); }
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  // Closes the descriptor (if any); close errors are ignored, there is nothing to retry.
  void reset();

 private:
  int fd_ = -1;
};

// The identity of a namespace: the (device, inode) pair of its nsfs file. Two paths refer
// to the same namespace exactly when their identities are equal.
struct NamespaceId {
  dev_t device = 0;
  ino_t inode = 0;
  auto operator<=>(const NamespaceId&) const = default;
};

// The path of the named namespace `name`: /run/netns/<name>.
std::string namespacePath(std::string_view name);

// Checks that `name` can be a namespace file name: 1-64 characters, none of them '/',
// not "." or "..". Fails with InvalidArgument naming the name.
Status validateNamespaceName(std::string_view name);

// Creates the named network namespace `name` (empty: just lo, down). Creates /run/netns
// and makes it a shared mount if needed. Fails with Conflict when the name is taken,
// InvalidArgument on a bad name, Unavailable when a mount, unshare or file operation
// fails (EPERM without CAP_SYS_ADMIN). On failure nothing is left behind.
Status createNamespace(std::string_view name);

// Deletes the named namespace: detaches the bind mount and removes the file. The kernel
// destroys the namespace (and every device in it) once no process or open descriptor
// holds it. Succeeds when the namespace does not exist. Fails with Unavailable when the
// unmount or unlink fails for another reason.
Status deleteNamespace(std::string_view name);

// True if /run/netns/<name> exists.
bool namespaceExists(std::string_view name);

// The names in /run/netns that start with `prefix`, sorted. A missing /run/netns is an
// empty list; an unreadable one fails with Unavailable.
Result<std::vector<std::string>> listNamespaces(std::string_view prefix = "");

// Opens a descriptor to the named namespace (O_RDONLY, close-on-exec), for setns() or
// for placing a link into it. Fails with NotFound when it does not exist.
Result<UniqueFd> openNamespace(std::string_view name);

// The identity of the namespace file at `path` (/run/netns/x, /proc/<pid>/ns/net).
// Fails with NotFound when the path does not exist, Unavailable otherwise.
Result<NamespaceId> namespaceIdOf(const std::string& path);

// Switches the *calling thread* into a network namespace and back when destroyed. Other
// threads are unaffected. Sockets opened meanwhile stay bound to the namespace they were
// opened in, which is the point: open a netlink socket here, use it from anywhere.
//
// If switching back fails the thread would silently keep working in the wrong namespace,
// so the destructor aborts the process instead (a broken invariant, not a user error).
class NamespaceSwitch {
 public:
  // Enters the namespace behind `namespaceFd`. `what` names it in error messages. Fails
  // with Unavailable when the current namespace cannot be saved or setns() fails.
  static Result<NamespaceSwitch> enter(int namespaceFd, std::string_view what);
  // Enters the named namespace /run/netns/<name>; NotFound when it does not exist.
  static Result<NamespaceSwitch> enter(std::string_view name);

  ~NamespaceSwitch();
  NamespaceSwitch(NamespaceSwitch&&) noexcept = default;
  NamespaceSwitch& operator=(NamespaceSwitch&&) = delete;
  NamespaceSwitch(const NamespaceSwitch&) = delete;
  NamespaceSwitch& operator=(const NamespaceSwitch&) = delete;

 private:
  NamespaceSwitch(UniqueFd original, std::string what)
      : original_(std::move(original)), what_(std::move(what)) {}

  UniqueFd original_;  // the namespace to return to; invalid once moved from
  std::string what_;
};

namespace detail {
template <typename T>
struct IsResult : std::false_type {};
template <typename T>
struct IsResult<Result<T>> : std::true_type {};
}  // namespace detail

// Runs `body` (returning Result<T> or Status) with the calling thread inside the named
// namespace, then switches back. Returns what `body` returns, or the error of entering.
template <typename F>
requires detail::IsResult<std::invoke_result_t<F>>::value std::invoke_result_t<F> runInNamespace(
    std::string_view name, F&& body) {
  auto inside = NamespaceSwitch::enter(name);
  if (!inside) {
    return std::unexpected(inside.error());
  }
  return std::forward<F>(body)();
}

}  // namespace overmesh::dataplane::kernel
