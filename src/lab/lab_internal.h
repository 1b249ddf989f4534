#pragma once

// The lab's internals, shared by its files and not part of the public API (lab.h).
//
//   lab_layout.cc     names, addresses and paths, all derived from the lab's name
//   lab_record.cc     files: lab.json (read, write, lock)
//   lab_topology.cc   namespaces and links (the underlay, the hosts) and the hosts' UTS pins
//   lab_processes.cc  finding, signalling, spawning and waiting for processes
//   lab_daemon.cc     a host's overmeshd: start it, wait for its API, call it, stop it
//   lab_etcd.cc       the etcd members of a lab with the etcd store
//   lab.cc            the public operations: up, down, status, exec, start, stop, restart

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "common/ip.h"
#include "dataplane/linux/netlink.h"
#include "dataplane/linux/netns.h"
#include "lab/lab.h"

namespace overmesh::lab::internal {

inline constexpr const char* kUnderlayBridge = "br0";
inline constexpr unsigned int kUnderlayMtu = 1500;
inline constexpr int kUnderlayPrefixLength = 24;
// 198.18.0.0/15 is reserved for benchmarking (RFC 2544); host i is 198.18.0.<i>.
inline constexpr std::uint32_t kUnderlayBase = 0xc6120000;
// Every lab daemon and every `lab exec` command carries OVERMESH_LAB=<name>, and so do the
// processes they start unless they clear their environment: down() finds them by it even
// when they live in namespaces of their own (task sandboxes).
inline constexpr const char* kLabMarkVariable = "OVERMESH_LAB";
inline constexpr auto kDaemonStartTimeout = std::chrono::seconds(10);
inline constexpr auto kTermGrace = std::chrono::seconds(5);
inline constexpr auto kKillGrace = std::chrono::seconds(2);
// A daemon stopped with SIGTERM gets this long to shut down cleanly before SIGKILL.
inline constexpr auto kDaemonStopGrace = std::chrono::seconds(10);
inline constexpr int kKillRounds = 5;
// sun_path holds 108 bytes including the terminating NUL.
inline constexpr std::size_t kMaxSocketPath = 107;

// ---- lab_layout.cc: names, addresses, paths ---------------------------------------------

std::string labDir(const std::string& runDir, const std::string& name);
std::string underlayNamespace(const std::string& name);
std::string hostNamespace(const std::string& name, int index);
Ipv4Address hostAddress(int index);
std::string clientNamespace(const std::string& name, int index);
// 198.18.0.<kClientAddressOffset + index>.
Ipv4Address clientAddress(int index);
std::string recordPath(const std::string& runDir, const std::string& name);
// The directory of one host: <runDir>/<name>/h<i>.
std::string hostDir(const LabHost& host);
// Where the host's UTS namespace is pinned (bind-mounted): <hostDir>/uts.
std::string utsPinPath(const std::string& hostDir);
// The host's own resolv.conf, given to its daemon with --resolv-conf: the resolvers its
// embedded DNS forwards unknown names to. <host state dir>/resolv.conf.
std::string resolvConfPath(const LabHost& host);
// Creates resolvConfPath(host) holding only a comment, unless it exists (a test or the demo
// may have added a `nameserver 198.18.0.x` line for a resolver it runs in the lab). With no
// nameserver a lab task's unknown names get SERVFAIL at once and never leave the lab.
Status ensureResolvConf(const LabHost& host);
// `runDir` made absolute (the default when empty), so that recorded paths stay valid.
std::string absoluteRunDir(const std::string& runDir);
// Host `index` of lab `name` as `lab up` lays it out (pid 0).
LabHost describeHost(const std::string& runDir, const std::string& name, int index);
// Client `index` of lab `name` as `lab up --clients` lays it out.
LabClient describeClient(const std::string& runDir, const std::string& name, int index);
// The host index in "<name>-h<i>", or 0 when `candidate` is not a host of lab `name`.
int hostIndexOf(const std::string& name, std::string_view candidate);
// The client index in "<name>-c<i>", or 0 when `candidate` is not a client of lab `name`.
int clientIndexOf(const std::string& name, std::string_view candidate);
// Only "<name>-ul", "<name>-h<digits>" (and its task sandboxes) and "<name>-c<digits>": a
// lab never claims someone else's namespace that merely shares the prefix.
bool isLabNamespace(const std::string& name, std::string_view candidate);
// The index of `host` ("2", "h2" or "<name>-h2"); InvalidArgument for anything else.
Result<int> resolveHost(const std::string& name, const std::string& host);

// What `lab exec` names: a host or a client.
struct ExecTarget {
  bool client = false;
  int index = 0;
};
// A host as resolveHost() reads it, or a client: "c1", "client1" or "<name>-c1" (1 to
// kMaxClients). InvalidArgument for anything else, saying both forms.
Result<ExecTarget> resolveExecTarget(const std::string& name, const std::string& target);

// ---- lab_etcd.cc: etcd members ---------------------------------------------------------

inline constexpr auto kEtcdStartTimeout = std::chrono::seconds(30);

std::string etcdNamespace(const std::string& name, int index);
// 198.18.0.<kEtcdAddressOffset + index>.
Ipv4Address etcdAddress(int index);
// Member `index` of lab `name` as `lab up --store etcd` lays it out (pid 0).
LabEtcdMember describeEtcdMember(const std::string& runDir, const std::string& name, int index);
// The member index in "<name>-etcd<i>", or 0.
int etcdIndexOf(const std::string& name, std::string_view candidate);
// The index of `member` ("2", "etcd2" or "<name>-etcd2"), 1 to kEtcdMembers;
// InvalidArgument for anything else.
Result<int> resolveEtcdMember(const std::string& name, const std::string& member);
// The command line that runs `member` of `members` (its --initial-cluster): its name, data
// dir, client and peer URLs on its underlay address. Pure.
std::vector<std::string> etcdArguments(const std::string& etcdPath, const LabEtcdMember& member,
                                       const std::vector<LabEtcdMember>& members);
// "etcd://198.18.0.201:2379,…": what host 1's `swarm init --store` is given. Pure.
std::string etcdStoreUrl(const std::vector<LabEtcdMember>& members);
// The member's namespace and veth (port e<i> on the underlay bridge), and its directory.
Status buildEtcdMember(dataplane::kernel::Netlink& underlay, const LabEtcdMember& member);
// Forks etcd into the member's namespace, in its own session, output appended to
// <dir>/etcd.log, carrying the lab's mark. Unavailable naming the step that failed.
Result<pid_t> startEtcdProcess(const std::string& labName, const std::string& etcdPath,
                               const LabEtcdMember& member,
                               const std::vector<LabEtcdMember>& members);
// True when member.pid runs in the member's namespace.
bool etcdRuns(const LabEtcdMember& member);
// GET /health on the member's client URL, from inside its namespace: Unavailable with the
// reason unless it answers {"health":"true"}.
Status etcdHealth(const LabEtcdMember& member, std::chrono::milliseconds timeout);
// Waits up to kEtcdStartTimeout until every member is healthy (a member alone is not: it
// needs a quorum). Unavailable naming the member and the end of its log.
Status waitForEtcd(const std::vector<LabEtcdMember>& members);
// The end of a log file, for error messages.
std::string logTail(const std::string& path, std::size_t lines = 15);

// ---- lab_record.cc: files ----------------------------------------------------------------

// The whole file, or "" when it cannot be read.
std::string readFile(const std::string& path);
// lab.json of lab `name`. NotFound when there is no lab; FailedPrecondition when the lab
// has namespaces but no record, or the record is damaged.
Result<LabRecord> readRecord(const std::string& runDir, const std::string& name);
Status writeRecord(const LabRecord& record);

// An exclusive lock on a lab's directory, held while a host's daemon is stopped or started
// and lab.json rewritten, so that two such commands do not interleave. Released on
// destruction.
class RecordLock {
 public:
  // Unavailable when the directory cannot be opened or locked.
  static Result<RecordLock> acquire(const std::string& runDir, const std::string& name);

 private:
  explicit RecordLock(dataplane::kernel::UniqueFd fd) : fd_(std::move(fd)) {}
  dataplane::kernel::UniqueFd fd_;
};

// ---- lab_topology.cc: namespaces, links, UTS pins ----------------------------------------

// The namespaces of lab `name` that exist now (see isLabNamespace()).
Result<std::vector<std::string>> labNamespaces(const std::string& name);
// Creates the underlay namespace with its bridge, up.
Status buildUnderlay(const std::string& name);
// Host namespace, veth pair h<i> (underlay, on br0) <-> eth0 (host), address, links up.
Status buildHost(dataplane::kernel::Netlink& underlay, const LabHost& host);
// The same for a client: veth pair c<i> <-> eth0, 198.18.0.<100+i>/24, lo up, and its
// directory for files.
Status buildClient(dataplane::kernel::Netlink& underlay, const LabClient& client);
// Pins the UTS namespace of `pid` at utsPinPath(hostDir) so that later processes (lab exec,
// a restarted daemon) can join it. Unavailable when the file or the bind mount fails.
Status pinUtsNamespace(pid_t pid, const std::string& hostDir);
// The host's pinned UTS namespace, or an invalid fd when it is not pinned (yet).
dataplane::kernel::UniqueFd openPinnedUts(const std::string& hostDir);
// Detaches the UTS pins below the lab's directory so that it can be removed; returns what
// could not be detached. A pin that is not mounted or absent is fine.
std::vector<std::string> unpinUtsNamespaces(const std::string& dir);

// ---- lab_processes.cc: processes ---------------------------------------------------------

// The environment of a child: ours, with `overrides` (NAME=value) replacing any entry of
// the same name.
std::vector<std::string> childEnvironment(const std::vector<std::string>& overrides);
// argv/envp-style pointers into `strings`, NULL-terminated; valid while `strings` lives.
std::vector<char*> cStrings(std::vector<std::string>& strings);
// In a forked child: restores what it must not inherit from the CLI (a blocked or ignored
// SIGINT, SIGTERM or SIGPIPE would make the daemon or the command unstoppable or odd).
void resetSignalsInChild();
// True when `pid` does not run: absent from /proc, or every thread of it a zombie (PID 1 in
// some containers does not reap). Never reaps, so it is safe on any pid.
bool processGone(pid_t pid);
// processGone() for a pid this process may have forked: reaps it if it is our exited
// child, so that it does not linger as our zombie.
bool reapedOrGone(pid_t pid);
// True when the environment of `pid` holds OVERMESH_LAB=<name>.
bool carriesLabMark(pid_t pid, const std::string& name);
// Every process in one of `namespaces`, or carrying the lab's mark, except this process
// and its ancestors (`lab down` run from a shell inside the lab must not kill that shell).
std::vector<pid_t> findLabProcesses(const std::set<dataplane::kernel::NamespaceId>& namespaces,
                                    const std::string& name);
// Waits until every pid in `pids` is gone or `timeout` passes; returns those still there.
std::vector<pid_t> waitGone(std::vector<pid_t> pids, std::chrono::milliseconds timeout);
// SIGTERM, a grace period (kTermGrace), then SIGKILL. Counts the SIGKILLs in
// report.killed; returns the pids that survived even SIGKILL.
std::vector<pid_t> terminate(const std::vector<pid_t>& pids, DownReport& report);
// Runs `argv` with `env` in the network namespace `netns` (and the UTS namespace `uts`
// when valid), stdin/stdout/stderr inherited, SIGINT/SIGQUIT ignored here while it runs,
// and returns its exit status (128+signal when killed; 127 when it cannot be executed,
// 126 when exec fails otherwise). `what` names the namespace in the child's messages.
// Unavailable when fork fails, Internal when wait fails.
Result<int> runInNamespaces(int netns, int uts, const std::string& what,
                            std::vector<std::string> argv, std::vector<std::string> env);

// ---- lab_daemon.cc: a host's overmeshd ---------------------------------------------------

// What a daemon is started with: `lab up` takes it from its options, `lab start` from
// lab.json.
struct DaemonLaunch {
  std::string labName;
  std::string overmeshdPath;  // argv[0]
  std::string logLevel;
  // `lab up --unit`: the words of the unit's ExecStart= after argv[0], kept as they are
  // (the unit's flags and --config file); empty without a unit.
  std::vector<std::string> unitArguments;
};

// The command line of host `host`'s daemon: argv[0], the unit's own arguments, then what a
// lab host must change (socket, state dir, cluster port, netns prefix, resolv.conf, log
// level; each one's reason is at its line). The appended options come last, so that they win
// over the same setting in the unit's arguments (overmeshd takes an option's last value) and
// in its --config file (the command line wins over the file). Pure.
std::vector<std::string> daemonArguments(const DaemonLaunch& launch, const LabHost& host);

// Forks overmeshd into the host: its network namespace, its UTS namespace (created with
// hostname <lab>-h<i> and pinned the first time; joined from the pin when it exists, so a
// restarted daemon has the same one), its own session, output appended to its log.
// Returns its pid once exec succeeded. Unavailable when a step fails (the message names
// the step) or the daemon exits right away (with the end of its log).
Result<pid_t> startDaemon(const DaemonLaunch& launch, const LabHost& host);
// Waits up to kDaemonStartTimeout until host.pid answers GET /v1/version on its socket.
// Unavailable (with the end of its log) when it exits or does not answer in time.
Status waitForDaemon(const LabHost& host);
// True when host.pid runs, in this host's network namespace (a recycled pid does not).
bool daemonRuns(const LabHost& host);
// Sends `signal` to host.pid and waits until it is gone; after SIGTERM, escalates to
// SIGKILL when kDaemonStopGrace passes. Returns whether SIGKILL was needed. Unavailable
// when the process survives SIGKILL for kKillGrace.
Result<bool> stopDaemonProcess(const LabHost& host, int signal);
// One JSON request to a host's daemon; a non-2xx answer becomes its typed error, and the
// HTTP status is stored in *statusOut when given.
Result<nlohmann::json> callDaemon(const LabHost& host, const std::string& method,
                                  const std::string& path, const nlohmann::json& body,
                                  std::chrono::milliseconds timeout, int* statusOut = nullptr);

}  // namespace overmesh::lab::internal
