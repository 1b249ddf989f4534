#include "support/leftovers.h"

#include <signal.h>
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include "support/process.h"

namespace overmesh::testing {
namespace {

namespace fs = std::filesystem;

// Every process's parent, from /proc/<pid>/stat ("pid (comm) state ppid ...": the comm
// may hold spaces and parentheses, so the fields are read after the last ')').
std::map<pid_t, pid_t> parents() {
  std::map<pid_t, pid_t> found;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator("/proc", error)) {
    std::string name = entry.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) {
      continue;
    }
    std::string stat = readFile(entry.path().string() + "/stat");
    auto close = stat.rfind(')');
    if (close == std::string::npos || close + 2 >= stat.size()) {
      continue;
    }
    std::istringstream fields(stat.substr(close + 2));
    char state = 0;
    pid_t parent = 0;
    fields >> state >> parent;
    found[static_cast<pid_t>(std::stol(name))] = parent;
  }
  return found;
}

std::set<pid_t> processesNaming(const std::string& directory, const std::map<pid_t, pid_t>& all) {
  std::set<pid_t> found;
  for (const auto& [pid, parent] : all) {
    if (pid == getpid()) {
      continue;
    }
    if (readFile("/proc/" + std::to_string(pid) + "/cmdline").find(directory) !=
        std::string::npos) {
      found.insert(pid);
    }
  }
  return found;
}

// `roots` and all their descendants.
std::set<pid_t> withDescendants(std::set<pid_t> roots, const std::map<pid_t, pid_t>& all) {
  bool grew = true;
  while (grew) {
    grew = false;
    for (const auto& [pid, parent] : all) {
      if (roots.contains(parent) && roots.insert(pid).second) {
        grew = true;
      }
    }
  }
  roots.erase(getpid());
  return roots;
}

// Mount points under `directory` from /proc/self/mountinfo (field 5), deepest first.
// Octal escapes (\040 for a space) are left as they are: such paths are not ours.
std::vector<std::string> mountsUnder(const std::string& directory) {
  std::vector<std::string> found;
  std::istringstream lines(readFile("/proc/self/mountinfo"));
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    std::string id, parent, device, root, point;
    fields >> id >> parent >> device >> root >> point;
    if (point == directory || point.starts_with(directory + "/")) {
      found.push_back(point);
    }
  }
  std::sort(found.begin(), found.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  return found;
}

}  // namespace

int sweepLeftovers(const std::string& directory) {
  if (directory.empty() || directory == "/") {
    return 0;
  }
  int killed = 0;
  // Twice: a conmon may be between fork and exec of its container the first time.
  for (int round = 0; round < 2; ++round) {
    auto all = parents();
    auto doomed = withDescendants(processesNaming(directory, all), all);
    for (pid_t pid : doomed) {
      if (::kill(pid, SIGKILL) == 0) {
        ++killed;
      }
    }
    if (!doomed.empty()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  }
  for (const auto& point : mountsUnder(directory)) {
    ::umount2(point.c_str(), MNT_DETACH);
  }
  return killed;
}

}  // namespace overmesh::testing
