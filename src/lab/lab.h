#pragma once

// The lab: several simulated hosts on one machine (DESIGN.md "The lab").
//
//   <name>-ul   the underlay: bridge br0 (MTU 1500), one port h<i> per host
//   <name>-h<i> host i: lo, eth0 = 198.18.0.<i>/24 (MTU 1500), no default route, and its
//               own UTS namespace (hostname <name>-h<i>) pinned at <runDir>/<name>/h<i>/uts
//   <name>-c<i> client i (only with LabOptions::clients > 0): lo, eth0 = 198.18.0.<100+i>/24
//               on the same bridge (port c<i>), no default route, and no overmeshd: a
//               machine outside the cluster that reaches the nodes only through their
//               underlay addresses, as a user's browser or an nginx in front would. Its
//               files (an nginx config, logs) go under <runDir>/<name>/c<i>/.
//
//   <name>-etcd<i> etcd member i, i = 1..3 (only with LabOptions::store "etcd"): lo, eth0 =
//               198.18.0.<200+i>/24 on the same bridge (port e<i>): a fixed block above
//               the clients' (101-120); `/usr/bin/etcd` with its data dir, log and peer
//               and client URLs (plain HTTP, ports 2380 and 2379) on that address, under
//               <runDir>/<name>/etcd<i>/.
//
// Each host runs a real overmeshd (socket and state under <runDir>/<name>/h<i>/); host 1
// is the manager (swarm init, advertise 198.18.0.1) and the others join it. With
// LabOptions::managers M > 1 (which needs the etcd store), host 1 runs `swarm init --store
// etcd://198.18.0.201:2379,…`, hosts 2..M join with the manager token and the rest with
// the worker token. What was made
// is recorded in <runDir>/<name>/lab.json, but down() does not need that file: it finds
// the lab by its namespace names, so it also cleans up after a crash or a kill -9.
//
// Everything needs root (CAP_SYS_ADMIN, CAP_NET_ADMIN). Nothing touches the machine's own
// network namespace: links, addresses and daemons live only in the lab's namespaces.

#include <sys/types.h>

#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "common/error.h"

namespace overmesh::lab {

inline constexpr const char* kDefaultRunDir = "/run/overmesh-lab";
inline constexpr int kMaxHosts = 50;
inline constexpr int kMaxClients = 20;
// Client i has the underlay address 198.18.0.<kClientAddressOffset + i>.
inline constexpr int kClientAddressOffset = 100;
inline constexpr int kClusterPort = 2377;
// The etcd members of a lab with the etcd store: member i is 198.18.0.<200 + i>.
inline constexpr int kEtcdMembers = 3;
inline constexpr int kEtcdAddressOffset = 200;
inline constexpr int kEtcdClientPort = 2379;
inline constexpr int kEtcdPeerPort = 2380;
inline constexpr const char* kDefaultEtcdPath = "/usr/bin/etcd";

struct LabOptions {
  std::string name = "om";
  int hosts = 3;
  int clients = 0;            // 0 to kMaxClients namespaces outside the cluster
  std::string overmeshdPath;  // the daemon binary to run in every host
  // A systemd unit whose ExecStart= every host runs (unit_exec_start.h), with the per-host
  // options appended (lab_internal.h, daemonArguments()); argv[0] is then the daemon binary
  // and overmeshdPath must be empty.
  std::string unitPath;
  std::string runDir = kDefaultRunDir;
  std::string logLevel = "info";  // overmeshd --log-level
  int managers = 1;               // 1 to hosts; more than 1 needs store "etcd"
  std::string store = "sqlite";   // "sqlite" (host 1's embedded store) | "etcd" (3 members)
  std::string etcdPath = kDefaultEtcdPath;
};

// One simulated host as recorded in lab.json.
struct LabHost {
  int index = 0;              // 1-based
  std::string name;           // "h2"
  std::string namespaceName;  // "<lab>-h2", also its hostname
  std::string address;        // "198.18.0.2"
  std::string socketPath;     // <runDir>/<lab>/h2/overmesh.sock
  std::string stateDir;       // <runDir>/<lab>/h2/state
  std::string logPath;        // <runDir>/<lab>/h2/overmeshd.log
  pid_t pid = 0;              // the daemon
  std::string role;           // "manager" | "worker"
  // The daemon's command line as it was started (argv, argv[0] the binary): what `lab
  // status --format json` shows and /proc/<pid>/cmdline holds.
  std::vector<std::string> command;
};

// One client namespace (outside the cluster) as recorded in lab.json.
struct LabClient {
  int index = 0;              // 1-based
  std::string name;           // "c1"
  std::string namespaceName;  // "<lab>-c1"
  std::string address;        // "198.18.0.101"
  std::string dir;            // <runDir>/<lab>/c1: the client's own files (nginx config, logs)
};

// One etcd member as recorded in lab.json.
struct LabEtcdMember {
  int index = 0;              // 1-based
  std::string name;           // "etcd2", also its etcd --name
  std::string namespaceName;  // "<lab>-etcd2"
  std::string address;        // "198.18.0.202"
  std::string dir;            // <runDir>/<lab>/etcd2: data/ and etcd.log
  pid_t pid = 0;
  // The client URL overmesh uses: "198.18.0.202:2379".
  std::string clientEndpoint() const;
};

struct LabRecord {
  std::string name;
  std::string runDir;
  std::string underlayNamespace;  // "<lab>-ul"
  std::string managerAddress;     // "198.18.0.1:2377"
  std::string overmeshdPath;      // the daemon binary `lab up` ran, for `lab start`
  // `lab up --unit`: the unit file and its ExecStart= words as read then (argv[0] is also
  // overmeshdPath). `lab start|restart` run them again, as systemd runs the loaded unit;
  // `--overmeshd P` replaces argv[0] only. Both empty without a unit.
  std::string unitPath;
  std::vector<std::string> unitCommand;
  std::string logLevel = "info";  // the daemons' --log-level
  std::vector<LabHost> hosts;
  std::vector<LabClient> clients;  // empty unless `lab up --clients N`
  std::string store = "sqlite";    // "sqlite" or the etcd:// URL the swarm was made with
  std::string etcdPath;            // the etcd binary, for `lab start etcdN`
  std::vector<LabEtcdMember> etcd;  // empty unless `lab up --store etcd`
};

struct LabHostStatus {
  LabHost host;
  bool daemonAlive = false;  // the PID runs, and in this host's namespace
  std::string nodeState;     // as the manager reports it ("ready", "down"); empty if unknown
  std::string nodeRole;
};

struct LabClientStatus {
  LabClient client;
  bool present = false;  // its network namespace exists
};

struct LabEtcdStatus {
  LabEtcdMember member;
  bool alive = false;    // its pid runs, in its namespace
  bool healthy = false;  // GET /health on its client URL said so
  std::string error;     // why not healthy
};

struct LabStatus {
  std::string name;
  std::string unitPath;  // the unit whose ExecStart= the daemons run; empty without one
  std::vector<LabHostStatus> hosts;
  std::vector<LabClientStatus> clients;
  std::vector<LabEtcdStatus> etcd;
  std::string managerError;  // why node states are unknown; empty when a manager answered
  std::string askedManager;  // the host whose node list is shown ("h2")
};

struct DownReport {
  std::vector<std::string> namespaces;  // deleted
  std::vector<pid_t> processes;         // signalled (SIGTERM, then SIGKILL if needed)
  int killed = 0;                       // of those, how many needed SIGKILL
  bool removedRunDir = false;
};

// Checks a lab name: 1-8 of [a-z0-9], so that "<name>-h50" fits in a device-sized name.
Status validateLabName(const std::string& name);

// Checks --managers, --store and the etcd binary against the host count: InvalidArgument
// naming the flag and what would be valid. Pure but for the executable check.
Status checkStoreOptions(const LabOptions& options);

// Builds the lab described in the header comment and returns its record. Fails with
// InvalidArgument on a bad name, host, client or manager count, store, daemon or etcd path,
// a unit whose ExecStart= is not supported, or a unit and a daemon path both given;
// Conflict when a lab of that name exists (its namespaces or its run directory); Unavailable when
// the kernel, a daemon or the swarm join fails, after removing everything it made.
Result<LabRecord> up(const LabOptions& options);

// Removes the lab `name`: every process in its namespaces (or carrying its OVERMESH_LAB
// mark), SIGTERM then SIGKILL after 5 s; its namespaces; its run directory. Idempotent:
// a lab that does not exist is a success with an empty report. Fails with Unavailable
// (after trying every step) when something could not be removed.
Result<DownReport> down(const std::string& name, const std::string& runDir = kDefaultRunDir);

// How `stop` ends a host's daemon.
enum class StopMode {
  Terminate,  // SIGTERM (a clean shutdown), SIGKILL if it still runs after 10 s
  Kill,       // SIGKILL: a crash
};

struct StopReport {
  LabHost host;             // as recorded, with the pid that was stopped
  bool wasRunning = false;  // false: there was nothing to stop
  bool neededKill = false;  // StopMode::Terminate escalated to SIGKILL
};

// Stops the daemon of host `host` ("2", "h2" or "<name>-h2") and waits until it is gone;
// the host's namespaces, files and node state stay, so that start() brings it back.
// A daemon that does not run is a success with wasRunning false. NotFound for an unknown
// lab or host; FailedPrecondition for a damaged record; Unavailable when the process
// survives SIGKILL.
Result<StopReport> stop(const std::string& name, const std::string& host, StopMode mode,
                        const std::string& runDir = kDefaultRunDir);

// Starts the daemon of host `host` again exactly as up() did (same binary unless
// `overmeshdPath` is given, the unit's arguments with `lab up --unit`, socket, state directory,
// log, UTS namespace, OVERMESH_LAB mark), waits until its API answers and records its new pid in
// lab.json. The daemon resumes its swarm membership from its state directory. Returns the host with
// its new pid. NotFound for an unknown lab or host; Conflict when its daemon already runs;
// Unavailable when it does not start or answer (with the end of its log).
Result<LabHost> start(const std::string& name, const std::string& host,
                      const std::string& runDir = kDefaultRunDir,
                      const std::string& overmeshdPath = "");

// stop() then start(); fails as they do. A daemon that was not running is just started.
Result<LabHost> restart(const std::string& name, const std::string& host, StopMode mode,
                        const std::string& runDir = kDefaultRunDir,
                        const std::string& overmeshdPath = "");

// Stops etcd member `member` ("2", "etcd2" or "<name>-etcd2") with SIGTERM (or SIGKILL
// with StopMode::Kill) and waits until it is gone; its data stays, so that startEtcd()
// brings it back into its cluster. Returns the member as recorded and whether it was
// running. NotFound for an unknown lab or member (a lab without etcd has none).
Result<std::pair<LabEtcdMember, bool>> stopEtcd(const std::string& name, const std::string& member,
                                                StopMode mode,
                                                const std::string& runDir = kDefaultRunDir);
// Starts a stopped etcd member again with its data directory and waits until it answers
// GET /health. Conflict when it runs; Unavailable when it does not come up (with the end of
// its log).
Result<LabEtcdMember> startEtcd(const std::string& name, const std::string& member,
                                const std::string& runDir = kDefaultRunDir);
// True when `target` names an etcd member of lab `name` ("etcd2", "<name>-etcd2"): what
// `lab stop|start` use to tell a member from a host.
bool namesEtcdMember(const std::string& name, const std::string& target);

// Reads lab.json and checks each daemon and etcd member, then asks the first manager
// whose daemon runs (host 1 unless it is down) for the node list. NotFound when
// no lab of that name was recorded; a manager that does not answer is reported in
// managerError, not as a failure.
Result<LabStatus> status(const std::string& name, const std::string& runDir = kDefaultRunDir);

// Runs `argv` in host `host` ("2", "h2" or "<name>-h2") with OVERMESH_HOST pointing at that
// host's daemon, stdin/stdout/stderr inherited, and returns its exit status (128+signal
// when killed; 127 when it cannot be executed). NotFound for an unknown lab or host.
// `host` may also name a client ("c1", "client1" or "<name>-c1"): the command then runs in
// the client's namespace with OVERMESH_HOST pointing at a socket that never exists
// (<runDir>/<name>/c1/not-a-cluster-member.sock), because a client is not a cluster member
// and has no daemon; `overmesh` there fails naming that path instead of silently reaching
// some daemon. OVERMESH_LAB_CLIENT=c1 and OVERMESH_LAB_CLIENT_DIR=<its dir> tell scripts
// where they are.
Result<int> exec(const std::string& name, const std::string& host,
                 const std::vector<std::string>& argv, const std::string& runDir = kDefaultRunDir);

void to_json(nlohmann::json& json, const LabHost& value);
void from_json(const nlohmann::json& json, LabHost& value);
void to_json(nlohmann::json& json, const LabClient& value);
void from_json(const nlohmann::json& json, LabClient& value);
void to_json(nlohmann::json& json, const LabEtcdMember& value);
void from_json(const nlohmann::json& json, LabEtcdMember& value);
void to_json(nlohmann::json& json, const LabEtcdStatus& value);
void to_json(nlohmann::json& json, const LabRecord& value);
void from_json(const nlohmann::json& json, LabRecord& value);
void to_json(nlohmann::json& json, const LabHostStatus& value);
void to_json(nlohmann::json& json, const LabClientStatus& value);
void to_json(nlohmann::json& json, const LabStatus& value);
void to_json(nlohmann::json& json, const DownReport& value);
void to_json(nlohmann::json& json, const StopReport& value);

}  // namespace overmesh::lab
