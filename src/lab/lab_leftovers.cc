#include "lab/lab_leftovers.h"

#include <fmt/format.h>
#include <signal.h>
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include "runtime/podman/podman_service.h"

namespace overmesh::lab {
namespace {

namespace fs = std::filesystem;

std::string readProcFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

struct ProcessInfo {
  pid_t parent = 0;
  std::string comm;
};

// Every process's parent and name, from /proc/<pid>/stat ("pid (comm) state ppid ...":
// the comm may hold spaces and parentheses, so the fields are read after the last ')').
std::map<pid_t, ProcessInfo> processes() {
  std::map<pid_t, ProcessInfo> found;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator("/proc", error)) {
    std::string name = entry.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) {
      continue;
    }
    std::string stat = readProcFile(entry.path().string() + "/stat");
    auto open = stat.find('(');
    auto close = stat.rfind(')');
    if (open == std::string::npos || close == std::string::npos || close + 2 >= stat.size()) {
      continue;
    }
    std::istringstream fields(stat.substr(close + 2));
    char state = 0;
    ProcessInfo info;
    fields >> state >> info.parent;
    info.comm = stat.substr(open + 1, close - open - 1);
    found[static_cast<pid_t>(std::stol(name))] = info;
  }
  return found;
}

std::set<pid_t> containerKeepersNaming(const std::string& directory,
                                       const std::map<pid_t, ProcessInfo>& all) {
  std::set<pid_t> found;
  for (const auto& [pid, info] : all) {
    if (pid == getpid() || (info.comm != "conmon" && info.comm != "podman")) {
      continue;
    }
    // directory + "/": the lab "demo" must not match the paths of the lab "demo2".
    if (readProcFile("/proc/" + std::to_string(pid) + "/cmdline").find(directory + "/") !=
        std::string::npos) {
      found.insert(pid);
    }
  }
  return found;
}

// `roots` and all their descendants.
std::set<pid_t> withDescendants(std::set<pid_t> roots, const std::map<pid_t, ProcessInfo>& all) {
  bool grew = true;
  while (grew) {
    grew = false;
    for (const auto& [pid, info] : all) {
      if (roots.contains(info.parent) && roots.insert(pid).second) {
        grew = true;
      }
    }
  }
  roots.erase(getpid());
  return roots;
}

// Mount points under `directory` from /proc/self/mountinfo (field 5), deepest first.
// Octal escapes (\040 for a space) are left as they are: such paths are not the lab's.
std::vector<std::string> mountsUnder(const std::string& directory) {
  std::vector<std::string> found;
  std::istringstream lines(readProcFile("/proc/self/mountinfo"));
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

int sweepContainersUnder(const std::string& directory) {
  if (directory.empty() || directory == "/") {
    return 0;
  }
  int killed = 0;
  // Twice: a conmon may be between fork and exec of its container the first time.
  for (int round = 0; round < 2; ++round) {
    auto all = processes();
    auto doomed = withDescendants(containerKeepersNaming(directory, all), all);
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

std::vector<std::string> removeShortRunRoots(const std::string& labDirectory) {
  std::vector<std::string> failures;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(labDirectory, error)) {
    std::string podmanDir = entry.path().string() + "/state/podman";
    std::string runRoot = runtime::podman::podmanRunRoot(podmanDir);
    if (!runRoot.starts_with(std::string(runtime::podman::kShortRunRootParent) + "/")) {
      continue;  // inside the lab's directory: removed with it
    }
    for (const auto& point : mountsUnder(runRoot)) {
      ::umount2(point.c_str(), MNT_DETACH);
    }
    std::error_code removeError;
    fs::remove_all(runRoot, removeError);
    if (removeError) {
      failures.push_back(fmt::format("remove {}: {}", runRoot, removeError.message()));
    }
  }
  return failures;
}

}  // namespace overmesh::lab
