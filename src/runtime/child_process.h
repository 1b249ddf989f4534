#pragma once

// Helpers for the code that runs between fork() and exec(). The daemon is multithreaded,
// so its forked child may only call async-signal-safe functions (no malloc, no locks, no
// fmt, no exceptions): everything a child needs (argv, envp, paths) is prepared as C
// strings before the fork, and these helpers only make raw system calls on them.

#include <sys/types.h>

#include <string>
#include <vector>

namespace overmesh::runtime {

// Owns strings and a null-terminated char* array over them, for execve() and friends.
// Build it before fork(); the child only reads data().
class CStringArray {
 public:
  explicit CStringArray(std::vector<std::string> strings);
  CStringArray(const CStringArray&) = delete;
  CStringArray& operator=(const CStringArray&) = delete;

  char* const* data() const { return pointers_.data(); }

 private:
  std::vector<std::string> strings_;
  std::vector<char*> pointers_;
};

// A step of a child's setup that failed, sent to the parent over a close-on-exec pipe as
// raw bytes (a write of this size is atomic on a pipe). The parent turns it into a
// message; the child cannot format one safely.
struct ChildFailure {
  int step = 0;   // a value of the caller's own step enum
  int error = 0;  // errno
};

// Writes {step, error} to `fd`, ignoring failures (the parent then sees only EOF).
void reportChildFailure(int fd, int step, int error);

// Reads every ChildFailure from `fd` until EOF (blocking, retrying EINTR). Returns the
// first one, or a failure with step 0 when the child exec'd or exited without reporting.
ChildFailure readChildFailure(int fd);

// Makes descriptor i a copy of fds[i] for i in [0, count) (clearing close-on-exec on
// them), and closes every other descriptor. fds[i] may repeat or already sit at a slot.
// count must be at most 8. Returns false (errno set) when a dup fails.
bool arrangeDescriptors(const int* fds, int count);

// Restores what a child must not inherit from the daemon: the daemon blocks SIGTERM and
// SIGINT in every thread (it waits for them with sigwait), and the shim ignores them;
// both the mask and ignored dispositions survive exec.
void resetSignalsForExec();

// Executes `file` like execvp(), but searching `path` (the task's PATH, not ours) and
// passing `envp`. Returns only on failure, with the errno to report (ENOENT when no PATH
// entry has the file; EACCES when one had it but it was not executable).
int execSearchingPath(const char* file, char* const argv[], char* const envp[], const char* path);

// Formats `value` as decimal into `buffer` (at least 12 bytes), null-terminated; returns
// the length. For the rare message a child must write itself.
int formatDecimal(int value, char* buffer);

}  // namespace overmesh::runtime
