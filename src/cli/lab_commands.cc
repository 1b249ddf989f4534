// `overmesh lab up|down|status|exec|start|stop|restart`: the simulated multi-host lab. The work is
// in src/lab/; this file parses flags, finds the overmeshd binary and prints results.

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <vector>

#include "cli/cli_context.h"
#include "cli/table.h"
#include "lab/lab.h"

namespace overmesh::cli {
namespace {

namespace fs = std::filesystem;

// The lab a command works on: --name, else OVERMESH_LAB (set inside `lab exec` commands,
// so that a shell in a lab host acts on its own lab), else "om".
struct LabTarget {
  std::string name = "om";
  std::string runDir = lab::kDefaultRunDir;
};

struct UpOptions {
  LabTarget target;
  int hosts = 3;
  int clients = 0;
  std::string overmeshd;
  std::string unit;  // --unit, else OVERMESH_LAB_UNIT
  std::string logLevel = "info";
  int managers = 1;
  std::string store = "sqlite";
  std::string etcd = lab::kDefaultEtcdPath;
};

std::string envOr(const char* name, const std::string& fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? std::string(value) : fallback;
}

void addTargetOptions(CLI::App* command, LabTarget& target) {
  target.name = envOr("OVERMESH_LAB", target.name);
  target.runDir = envOr("OVERMESH_LAB_DIR", target.runDir);
  command->add_option("--name", target.name, "Lab name, 1-8 of [a-z0-9] (env OVERMESH_LAB)")
      ->capture_default_str();
  command
      ->add_option("--run-dir", target.runDir,
                   "Where lab state, sockets and logs live (env OVERMESH_LAB_DIR)")
      ->capture_default_str();
}

Status requireRoot(std::string_view command) {
  if (geteuid() != 0) {
    return errorf(ErrorKind::FailedPrecondition,
                  "{} needs root: it creates network namespaces, links and mounts (run it with "
                  "sudo)",
                  command);
  }
  return {};
}

bool isExecutable(const fs::path& path) {
  std::error_code error;
  return fs::is_regular_file(path, error) && access(path.c_str(), X_OK) == 0;
}

// The daemon binary: --overmeshd, $OVERMESHD, next to this binary, ../daemon/overmeshd
// relative to it (the build tree), then $PATH.
Result<std::string> findOvermeshd(const std::string& flag) {
  if (!flag.empty()) {
    return flag;
  }
  if (std::string fromEnv = envOr("OVERMESHD", ""); !fromEnv.empty()) {
    return fromEnv;
  }
  std::vector<fs::path> candidates;
  std::error_code error;
  fs::path self = fs::read_symlink("/proc/self/exe", error);
  if (!error) {
    candidates.push_back(self.parent_path() / "overmeshd");
    candidates.push_back((self.parent_path() / ".." / "daemon" / "overmeshd").lexically_normal());
  }
  std::string path = envOr("PATH", "");
  for (std::size_t start = 0; start <= path.size();) {
    std::size_t end = path.find(':', start);
    if (end == std::string::npos) {
      end = path.size();
    }
    if (end > start) {
      candidates.push_back(fs::path(path.substr(start, end - start)) / "overmeshd");
    }
    start = end + 1;
  }
  for (const auto& candidate : candidates) {
    if (isExecutable(candidate)) {
      return candidate.string();
    }
  }
  return errorf(ErrorKind::NotFound,
                "cannot find the overmeshd binary (looked next to {}, in ../daemon/ and in "
                "$PATH); pass --overmeshd PATH or set OVERMESHD",
                error ? "this binary" : self.string());
}

std::string pidText(pid_t pid) { return pid > 0 ? std::to_string(pid) : "-"; }

void printClients(std::ostream& out, const std::vector<lab::LabClient>& clients) {
  Table table({"CLIENT", "NAMESPACE", "ADDRESS"});
  for (const auto& client : clients) {
    table.addRow({client.name, client.namespaceName, client.address});
  }
  table.print(out);
}

Status runUp(CliContext& context, const UpOptions& options) {
  if (auto root = requireRoot("lab up"); !root) {
    return root;
  }
  lab::LabOptions labOptions;
  // With a unit, its ExecStart= names the daemon binary: $OVERMESHD and the search next to
  // this binary do not apply, and an explicit --overmeshd contradicts it.
  std::string unit = options.unit.empty() ? envOr("OVERMESH_LAB_UNIT", "") : options.unit;
  if (!unit.empty() && !options.overmeshd.empty()) {
    return errorf(ErrorKind::InvalidArgument,
                  "--unit {}{} and --overmeshd {} both name the daemon binary (the unit's "
                  "ExecStart= starts with it): give one of them",
                  unit, options.unit.empty() ? " (from OVERMESH_LAB_UNIT)" : "", options.overmeshd);
  }
  if (unit.empty()) {
    auto overmeshd = findOvermeshd(options.overmeshd);
    if (!overmeshd) {
      return std::unexpected(overmeshd.error());
    }
    labOptions.overmeshdPath = *overmeshd;
  }
  labOptions.unitPath = unit;
  labOptions.name = options.target.name;
  labOptions.hosts = options.hosts;
  labOptions.clients = options.clients;
  labOptions.runDir = options.target.runDir;
  labOptions.logLevel = options.logLevel;
  labOptions.managers = options.managers;
  labOptions.store = options.store;
  labOptions.etcdPath = options.etcd;
  auto record = lab::up(labOptions);
  if (!record) {
    return std::unexpected(record.error());
  }
  auto& out = *context.out;
  out << fmt::format(
      "Lab \"{}\" is up: {} host{} on the underlay 198.18.0.0/24 (namespace {}, "
      "bridge br0); {} made the swarm at {}{}.\n\n",
      record->name, record->hosts.size(), record->hosts.size() == 1 ? "" : "s",
      record->underlayNamespace, record->hosts.front().name, record->managerAddress,
      record->etcd.empty() ? "" : fmt::format(" on the store {}", record->store));
  Table table({"HOST", "NAMESPACE", "ADDRESS", "PID", "ROLE", "SOCKET"});
  for (const auto& host : record->hosts) {
    table.addRow({host.name, host.namespaceName, host.address, pidText(host.pid), host.role,
                  host.socketPath});
  }
  table.print(out);
  if (!record->unitPath.empty()) {
    out << fmt::format(
        "\nEvery host runs ExecStart= of {}:\n  {}\nwith its own --socket, --state-dir, "
        "--cluster-port, --netns-prefix, --resolv-conf and --log-level appended.\n",
        record->unitPath, fmt::join(record->unitCommand, " "));
  }
  std::string nameFlag =
      record->name == "om" ? std::string() : fmt::format(" --name {}", record->name);
  if (!record->etcd.empty()) {
    out << "\netcd members (plain HTTP on the underlay):\n\n";
    Table members({"MEMBER", "NAMESPACE", "CLIENT URL", "PID", "DATA"});
    for (const auto& member : record->etcd) {
      members.addRow({member.name, member.namespaceName, "http://" + member.clientEndpoint(),
                      pidText(member.pid), member.dir + "/data"});
    }
    members.print(out);
  }
  if (!record->clients.empty()) {
    out << fmt::format(
        "\n{} client{} outside the cluster (no overmeshd; they reach the nodes only by their "
        "underlay addresses):\n\n",
        record->clients.size(), record->clients.size() == 1 ? "" : "s");
    printClients(out, record->clients);
  }
  out << fmt::format("\nRun a command in a host:  overmesh lab exec{} 1 -- overmesh node ls\n",
                     nameFlag);
  if (!record->clients.empty()) {
    out << fmt::format(
        "Run one in a client:      overmesh lab exec{} c1 -- curl -s "
        "http://198.18.0.1:8080/\n",
        nameFlag);
  }
  if (!record->etcd.empty()) {
    out << fmt::format("Crash an etcd member:     overmesh lab stop{} --kill etcd2\n", nameFlag);
  }
  out << fmt::format("Remove the lab:           overmesh lab down{}\n", nameFlag);
  return {};
}

Status runDown(CliContext& context, const LabTarget& target) {
  if (auto root = requireRoot("lab down"); !root) {
    return root;
  }
  auto report = lab::down(target.name, target.runDir);
  if (!report) {
    return std::unexpected(report.error());
  }
  auto& out = *context.out;
  if (report->namespaces.empty() && report->processes.empty() && !report->removedRunDir) {
    out << fmt::format("No lab named \"{}\": nothing to remove.\n", target.name);
    return {};
  }
  out << fmt::format("Removed lab \"{}\":\n", target.name);
  out << fmt::format("  namespaces: {}\n",
                     report->namespaces.empty()
                         ? std::string("none")
                         : fmt::format("{}", fmt::join(report->namespaces, ", ")));
  out << fmt::format(
      "  processes:  {} stopped{}\n", report->processes.size(),
      report->killed > 0 ? fmt::format(" ({} needed SIGKILL)", report->killed) : std::string());
  out << fmt::format("  run dir:    {}\n",
                     report->removedRunDir
                         ? (fs::path(target.runDir) / target.name).string() + " removed"
                         : std::string("none"));
  return {};
}

Status runStatus(CliContext& context, const LabTarget& target, const std::string& format) {
  auto labStatus = lab::status(target.name, target.runDir);
  if (!labStatus) {
    return std::unexpected(labStatus.error());
  }
  if (format == "json") {
    printJson(*context.out, nlohmann::json(*labStatus));
    return {};
  }
  Table table({"HOST", "NAMESPACE", "ADDRESS", "PID", "DAEMON", "NODE STATE"});
  for (const auto& host : labStatus->hosts) {
    std::string nodeState = host.nodeState.empty() ? "-" : host.nodeState;
    if (!host.nodeRole.empty()) {
      nodeState += fmt::format(" ({})", host.nodeRole);
    }
    table.addRow({host.host.name, host.host.namespaceName, host.host.address,
                  pidText(host.host.pid), host.daemonAlive ? "running" : "dead", nodeState});
  }
  table.print(*context.out);
  if (!labStatus->unitPath.empty()) {
    *context.out << fmt::format(
        "\nThe daemons run ExecStart= of {} (each command line: --format json).\n",
        labStatus->unitPath);
  }
  if (!labStatus->clients.empty()) {
    *context.out << '\n';
    Table clients({"CLIENT", "NAMESPACE", "ADDRESS", "NAMESPACE STATE"});
    for (const auto& client : labStatus->clients) {
      clients.addRow({client.client.name, client.client.namespaceName, client.client.address,
                      client.present ? "present" : "missing"});
    }
    clients.print(*context.out);
  }
  if (!labStatus->etcd.empty()) {
    *context.out << '\n';
    Table members({"ETCD MEMBER", "NAMESPACE", "CLIENT URL", "PID", "PROCESS", "HEALTH"});
    for (const auto& member : labStatus->etcd) {
      members.addRow({member.member.name, member.member.namespaceName,
                      "http://" + member.member.clientEndpoint(), pidText(member.member.pid),
                      member.alive ? "running" : "dead", member.healthy ? "healthy" : "unhealthy"});
    }
    members.print(*context.out);
  }
  if (!labStatus->managerError.empty()) {
    *context.out << fmt::format("\nNode states are unknown: the manager ({}) did not answer: {}\n",
                                labStatus->askedManager, labStatus->managerError);
  }
  return {};
}

Status runExec(CliContext& context, const LabTarget& target, const std::string& host,
               const std::vector<std::string>& command) {
  if (auto root = requireRoot("lab exec"); !root) {
    return root;
  }
  std::cout.flush();
  auto exitCode = lab::exec(target.name, host, command, target.runDir);
  if (!exitCode) {
    return std::unexpected(exitCode.error());
  }
  context.exitCode = *exitCode;
  return {};
}

// What `lab start|stop|restart` act on, and how.
struct DaemonControlOptions {
  LabTarget target;
  std::string host;
  bool kill = false;      // stop/restart: SIGKILL instead of SIGTERM
  std::string overmeshd;  // start/restart: another daemon binary than `lab up` ran
};

void printStopped(CliContext& context, const lab::StopReport& report, bool kill) {
  if (!report.wasRunning) {
    *context.out << fmt::format("The daemon of {} ({}) was not running.\n", report.host.name,
                                report.host.namespaceName);
    return;
  }
  *context.out << fmt::format(
      "Stopped the daemon of {} ({}, pid {}) with {}.\n", report.host.name,
      report.host.namespaceName, report.host.pid,
      kill ? "SIGKILL" : (report.neededKill ? "SIGTERM, then SIGKILL" : "SIGTERM"));
}

void printStarted(CliContext& context, const lab::LabHost& host, std::string_view verb) {
  *context.out << fmt::format("{} the daemon of {} ({}): pid {}, socket {}.\n", verb, host.name,
                              host.namespaceName, host.pid, host.socketPath);
}

Status runStop(CliContext& context, const DaemonControlOptions& options) {
  if (auto root = requireRoot("lab stop"); !root) {
    return root;
  }
  if (lab::namesEtcdMember(options.target.name, options.host)) {
    auto stopped = lab::stopEtcd(options.target.name, options.host,
                                 options.kill ? lab::StopMode::Kill : lab::StopMode::Terminate,
                                 options.target.runDir);
    if (!stopped) {
      return std::unexpected(stopped.error());
    }
    const auto& [member, wasRunning] = *stopped;
    *context.out << (wasRunning ? fmt::format("Stopped etcd member {} ({}, pid {}) with {}.\n",
                                              member.name, member.namespaceName, member.pid,
                                              options.kill ? "SIGKILL" : "SIGTERM")
                                : fmt::format("etcd member {} ({}) was not running.\n", member.name,
                                              member.namespaceName));
    return {};
  }
  auto report = lab::stop(options.target.name, options.host,
                          options.kill ? lab::StopMode::Kill : lab::StopMode::Terminate,
                          options.target.runDir);
  if (!report) {
    return std::unexpected(report.error());
  }
  printStopped(context, *report, options.kill);
  return {};
}

Status runStart(CliContext& context, const DaemonControlOptions& options) {
  if (auto root = requireRoot("lab start"); !root) {
    return root;
  }
  if (lab::namesEtcdMember(options.target.name, options.host)) {
    auto member = lab::startEtcd(options.target.name, options.host, options.target.runDir);
    if (!member) {
      return std::unexpected(member.error());
    }
    *context.out << fmt::format("Started etcd member {} ({}): pid {}, healthy.\n", member->name,
                                member->namespaceName, member->pid);
    return {};
  }
  auto host =
      lab::start(options.target.name, options.host, options.target.runDir, options.overmeshd);
  if (!host) {
    return std::unexpected(host.error());
  }
  printStarted(context, *host, "Started");
  return {};
}

Status runRestart(CliContext& context, const DaemonControlOptions& options) {
  if (auto root = requireRoot("lab restart"); !root) {
    return root;
  }
  auto host = lab::restart(options.target.name, options.host,
                           options.kill ? lab::StopMode::Kill : lab::StopMode::Terminate,
                           options.target.runDir, options.overmeshd);
  if (!host) {
    return std::unexpected(host.error());
  }
  printStarted(context, *host, "Restarted");
  return {};
}

// Adds `lab NAME [--name LAB] HOST ...` for one of start, stop, restart.
void addDaemonControlCommand(CLI::App* labCommand, CliContext& context, const std::string& name,
                             const std::string& description, bool hasKill, bool hasBinary,
                             Status (*run)(CliContext&, const DaemonControlOptions&)) {
  auto options = context.hold<DaemonControlOptions>();
  CLI::App* command = labCommand->add_subcommand(name, description);
  addTargetOptions(command, options->target);
  command->add_option("host", options->host, "Host: 2, h2 or <lab>-h2 (etcd member: etcd2)")
      ->required();
  if (hasKill) {
    command->add_flag("--kill", options->kill, "SIGKILL the daemon (a crash) instead of SIGTERM");
  }
  if (hasBinary) {
    command->add_option("--overmeshd", options->overmeshd,
                        "The overmeshd binary (default: the one `lab up` started; with `lab up "
                        "--unit`, replaces only the program of the unit's ExecStart=)");
  }
  command->callback([&context, options, run] {
    context.action = [&context, options, run] { return run(context, *options); };
  });
}

}  // namespace

void addLabCommands(CLI::App& app, CliContext& context) {
  CLI::App* labCommand =
      app.add_subcommand("lab", "Simulated multi-host lab: hosts as network namespaces");
  labCommand->require_subcommand(1);

  auto up = context.hold<UpOptions>();
  CLI::App* upCommand = labCommand->add_subcommand(
      "up", "Create a lab: N hosts on one underlay bridge, an overmeshd in each, a swarm");
  addTargetOptions(upCommand, up->target);
  upCommand->add_option("--hosts", up->hosts, "Number of hosts, 1-50")->capture_default_str();
  upCommand
      ->add_option("--clients", up->clients,
                   "Number of clients outside the cluster (namespaces <lab>-c<i> at "
                   "198.18.0.<100+i>, no overmeshd), 0-20")
      ->capture_default_str();
  upCommand
      ->add_option("--managers", up->managers,
                   "Hosts 1..M are managers (M > 1 needs --store etcd), 1 to --hosts")
      ->capture_default_str();
  upCommand
      ->add_option("--store", up->store,
                   "Cluster store: sqlite (host 1's own) or etcd (3 members in namespaces "
                   "<lab>-etcd1..3 at 198.18.0.201-203)")
      ->check(CLI::IsMember({"sqlite", "etcd"}))
      ->capture_default_str();
  upCommand->add_option("--etcd", up->etcd, "The etcd binary for --store etcd")
      ->capture_default_str();
  upCommand->add_option("--overmeshd", up->overmeshd,
                        "The overmeshd binary (env OVERMESHD; default: next to this binary)");
  upCommand->add_option(
      "--unit", up->unit,
      "Run the ExecStart= line of this systemd unit in every host, as systemd would (its "
      "binary, flags and --config file), with the per-host socket, state dir and options "
      "appended (env OVERMESH_LAB_UNIT; not with --overmeshd)");
  upCommand->add_option("--log-level", up->logLevel, "The daemons' log level")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}))
      ->capture_default_str();
  upCommand->callback(
      [&context, up] { context.action = [&context, up] { return runUp(context, *up); }; });

  auto downTarget = context.hold<LabTarget>();
  CLI::App* downCommand = labCommand->add_subcommand(
      "down", "Remove a lab: its processes, namespaces and files (also after a crash)");
  addTargetOptions(downCommand, *downTarget);
  downCommand->callback([&context, downTarget] {
    context.action = [&context, downTarget] { return runDown(context, *downTarget); };
  });

  auto statusTarget = context.hold<LabTarget>();
  auto statusFormat = context.hold<std::string>("table");
  CLI::App* statusCommand =
      labCommand->add_subcommand("status", "Show a lab's hosts, daemons and node states");
  addTargetOptions(statusCommand, *statusTarget);
  addFormatOption(statusCommand, *statusFormat);
  statusCommand->callback([&context, statusTarget, statusFormat] {
    context.action = [&context, statusTarget, statusFormat] {
      return runStatus(context, *statusTarget, *statusFormat);
    };
  });

  struct ExecOptions {
    LabTarget target;
    std::string host;
    std::vector<std::string> command;
  };
  auto exec = context.hold<ExecOptions>();
  CLI::App* execCommand = labCommand->add_subcommand(
      "exec", "Run a command in a lab host or client: overmesh lab exec HOST|CLIENT -- CMD...");
  addTargetOptions(execCommand, exec->target);
  execCommand
      ->add_option("host", exec->host, "Host: 2, h2 or <lab>-h2; client: c1, client1 or <lab>-c1")
      ->required();
  execCommand->add_option("command", exec->command, "Command and arguments (after --)")->required();
  execCommand->callback([&context, exec] {
    context.action = [&context, exec] {
      return runExec(context, exec->target, exec->host, exec->command);
    };
  });

  addDaemonControlCommand(labCommand, context, "stop",
                          "Stop a lab host's daemon (SIGTERM, or SIGKILL with --kill) and wait "
                          "until it is gone",
                          true, false, runStop);
  addDaemonControlCommand(labCommand, context, "start",
                          "Start a lab host's stopped daemon again, as `lab up` did", false, true,
                          runStart);
  addDaemonControlCommand(labCommand, context, "restart", "Stop, then start a lab host's daemon",
                          true, true, runRestart);
}

}  // namespace overmesh::cli
