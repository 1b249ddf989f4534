#pragma once

// Programs run inside a test's own network namespace without `ip netns exec`: the child
// enters the namespace with setns() and, when asked, sees its own /etc/resolv.conf through a
// bind mount in a private mount namespace (the machine's file is never touched). Used by the
// kernel tests and benchmarks that observe the embedded resolver with dig, getent, dnsmasq
// and dnsperf. Needs root.

#include <sys/types.h>

#include <string>
#include <vector>

namespace overmesh::testing {

struct NamespaceRun {
  int exitCode = -1;  // 128 + signal when killed; 127 when it could not start
  std::string out;
  std::string err;
};

// Runs `argv` (argv[0] an absolute path) inside /run/netns/<ns> to completion, capturing
// stdout and stderr. `resolvConf`, when not empty, is a file bind-mounted on
// /etc/resolv.conf for the child only.
NamespaceRun runInNetns(const std::string& ns, const std::vector<std::string>& argv,
                        const std::string& resolvConf = "");

// Starts `argv` inside /run/netns/<ns> with stdout and stderr appended to `logPath`;
// returns its pid (-1 when fork fails). The caller kills and reaps it (stopInNetns).
pid_t spawnInNetns(const std::string& ns, const std::vector<std::string>& argv,
                   const std::string& logPath);

// SIGKILLs `pid` (one the caller started) and reaps it. Does nothing for pid <= 0.
void stopSpawned(pid_t pid);

}  // namespace overmesh::testing
