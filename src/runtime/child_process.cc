#include "runtime/child_process.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>

namespace overmesh::runtime {
namespace {

constexpr int kMaxArrangedDescriptors = 8;

// Closes every descriptor >= `first`. close_range() exists since Linux 5.9; older kernels
// get a loop over the possible descriptors.
void closeFrom(int first) {
  if (syscall(SYS_close_range, static_cast<unsigned>(first), ~0U, 0U) == 0) {
    return;
  }
  long limit = sysconf(_SC_OPEN_MAX);
  for (long fd = first; fd < (limit > 0 ? limit : 1024); ++fd) {
    close(static_cast<int>(fd));
  }
}

}  // namespace

CStringArray::CStringArray(std::vector<std::string> strings) : strings_(std::move(strings)) {
  pointers_.reserve(strings_.size() + 1);
  for (auto& text : strings_) {
    pointers_.push_back(text.data());
  }
  pointers_.push_back(nullptr);
}

void reportChildFailure(int fd, int step, int error) {
  ChildFailure failure{step, error};
  while (write(fd, &failure, sizeof(failure)) < 0 && errno == EINTR) {
  }
}

ChildFailure readChildFailure(int fd) {
  ChildFailure first;
  bool haveFirst = false;
  while (true) {
    ChildFailure failure;
    ssize_t n = read(fd, &failure, sizeof(failure));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return first;
    }
    if (n == static_cast<ssize_t>(sizeof(failure)) && !haveFirst) {
      first = failure;
      haveFirst = true;
    }
  }
}

bool arrangeDescriptors(const int* fds, int count) {
  if (count > kMaxArrangedDescriptors) {
    errno = EINVAL;
    return false;
  }
  // First move every source above the target slots, so that placing slot i never
  // overwrites a source still needed for a later slot.
  int moved[kMaxArrangedDescriptors];
  for (int i = 0; i < count; ++i) {
    moved[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, count);
    if (moved[i] < 0) {
      return false;
    }
  }
  for (int i = 0; i < count; ++i) {
    if (dup2(moved[i], i) < 0) {
      return false;
    }
  }
  closeFrom(count);
  return true;
}

void resetSignalsForExec() {
  struct sigaction defaults {};
  defaults.sa_handler = SIG_DFL;
  sigemptyset(&defaults.sa_mask);
  for (int signal = 1; signal < NSIG; ++signal) {
    // Fails harmlessly for SIGKILL, SIGSTOP and the signals glibc reserves.
    sigaction(signal, &defaults, nullptr);
  }
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
}

int execSearchingPath(const char* file, char* const argv[], char* const envp[], const char* path) {
  if (strchr(file, '/') != nullptr) {
    execve(file, argv, envp);
    return errno;
  }
  std::size_t fileLength = strlen(file);
  int result = ENOENT;
  const char* entry = path;
  while (true) {
    const char* end = strchrnul(entry, ':');
    std::size_t dirLength = static_cast<std::size_t>(end - entry);
    char candidate[PATH_MAX];
    if (dirLength + 1 + fileLength + 1 <= sizeof(candidate)) {
      // An empty PATH entry means the current directory, as in execvp().
      std::size_t at = 0;
      if (dirLength == 0) {
        candidate[at++] = '.';
      } else {
        memcpy(candidate, entry, dirLength);
        at = dirLength;
      }
      candidate[at++] = '/';
      memcpy(candidate + at, file, fileLength + 1);
      execve(candidate, argv, envp);
      // Keep looking past entries that do not have the file; remember a permission
      // problem so that the report says "Permission denied", not "not found".
      if (errno == EACCES) {
        result = EACCES;
      } else if (errno != ENOENT && errno != ENOTDIR && errno != ESTALE && errno != ENODEV &&
                 errno != ETIMEDOUT) {
        return errno;
      }
    }
    if (*end == '\0') {
      return result;
    }
    entry = end + 1;
  }
}

int formatDecimal(int value, char* buffer) {
  char digits[12];
  int count = 0;
  unsigned magnitude = value < 0 ? 0U - static_cast<unsigned>(value) : static_cast<unsigned>(value);
  do {
    digits[count++] = static_cast<char>('0' + magnitude % 10);
    magnitude /= 10;
  } while (magnitude != 0);
  int length = 0;
  if (value < 0) {
    buffer[length++] = '-';
  }
  while (count > 0) {
    buffer[length++] = digits[--count];
  }
  buffer[length] = '\0';
  return length;
}

}  // namespace overmesh::runtime
