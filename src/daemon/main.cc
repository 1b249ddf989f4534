// overmeshd: parses flags, wires a Daemon, waits for SIGTERM/SIGINT. Behaviour lives in
// the libraries (daemon.cc and below).

#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string_view>

#include "daemon/cleanup_command.h"
#include "daemon/daemon.h"
#include "daemon/daemon_flags.h"
#include "daemon/netns_guard.h"
#include "runtime/shim.h"

namespace {

// Every API connection is a descriptor (three on a TLS listener), so the soft limit
// (often 1,024) would cap connections long before the server's own limits. Raises it to
// the hard limit, which needs no privilege; raising the hard limit would need
// CAP_SYS_RESOURCE, which root lacks on some hosts, so it is not tried. Logs what it got.
void raiseDescriptorLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    spdlog::warn("cannot read the descriptor limit (RLIMIT_NOFILE): {}", std::strerror(errno));
    return;
  }
  rlim_t before = limit.rlim_cur;
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &limit) != 0) {
      spdlog::warn(
          "cannot raise the descriptor limit from {} to {}: {}; API connections are "
          "capped by it",
          before, limit.rlim_max, std::strerror(errno));
      return;
    }
  }
  spdlog::info("descriptor limit {} (was {}; hard limit {})", limit.rlim_cur, before,
               limit.rlim_max);
}

// Refuses the machine's own network namespace unless allowed: the same guard as the
// daemon's. Returns the exit status to end with, or 0 to go on.
// `why` says what the command would do there.
int refuseMachineNamespace(bool allowRootNetns, const char* command, const char* why) {
  auto inRoot = overmesh::daemon::inMachineNetworkNamespace();
  if (!inRoot) {
    std::fprintf(stderr, "%s: cannot tell which network namespace this is: %s\n", command,
                 inRoot.error().message.c_str());
    return 1;
  }
  if (*inRoot && !allowRootNetns) {
    std::fprintf(stderr,
                 "%s: refusing to run in the machine's own network namespace: it would "
                 "%s there. Run it inside a lab host (`overmesh "
                 "lab up`) or a namespace of its own. On a host meant to run it, install the "
                 "package and start the unit (`systemctl start overmeshd`, see "
                 "docs/install.md), or pass --allow-root-netns.\n",
                 command, why);
    return 1;
  }
  return 0;
}

// `overmeshd cleanup`: flags here, behaviour in daemon/cleanup_command.h.
int cleanupMain(int argc, char** argv) {
  CLI::App app{
      "overmeshd cleanup: remove everything overmesh made on this host, with overmeshd "
      "stopped.\n\n"
      "Stops and removes this node's tasks (process tasks under STATE-DIR/tasks, podman "
      "containers labelled with the node's ID), deletes their network namespaces "
      "(/run/netns/PREFIXt-ID) and host-side links (veths omv*, omg*), the overlay devices "
      "(omvx<VNI> VXLAN, ombr<VNI> bridges), the gateway bridge omgwbridge, and the nftables "
      "tables ip overmesh_mesh, ip overmesh_gw and inet overmesh_underlay; then the local "
      "API socket and podman's run directory under /run/overmesh-podman. An object is "
      "removed only when both its kind and its name are overmesh's; nothing else is "
      "touched. The state directory stays (apt purge removes /var/lib/overmesh), and "
      "net.ipv4.ip_forward is left as it is (other software may need it).\n\n"
      "Refuses to run while an overmeshd uses the state directory. Running it again finds "
      "nothing and says so. Exit status: 0 when everything found was removed, 1 otherwise.",
      "overmeshd cleanup"};
  app.set_config("--config", "",
                 "Read --state-dir, --socket and --netns-prefix from the daemon's settings "
                 "file (its other settings are ignored)");
  app.allow_config_extras(CLI::config_extras_mode::ignore);
  overmesh::daemon::CleanupCommandOptions options;
  bool allowRootNetns = false;
  int graceMs = static_cast<int>(options.grace.count());
  app.add_option("--state-dir", options.stateDir, "The daemon's state directory")
      ->capture_default_str();
  app.add_option("--socket", options.socketPath, "The daemon's local API socket")
      ->capture_default_str();
  app.add_option("--netns-prefix", options.netnsPrefix,
                 "The daemon's prefix of task network namespaces")
      ->capture_default_str();
  app.add_option("--stop-grace-ms", graceMs,
                 "How long a task has to end after its stop signal before SIGKILL")
      ->check(CLI::Range(0, 600000))
      ->capture_default_str();
  app.add_flag("--allow-root-netns", allowRootNetns,
               "Run in the machine's own network namespace (refused by default for safety; "
               "the package's prerm passes it)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error);
  }
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e level=%l pid=%P %v");
  spdlog::set_level(spdlog::level::warn);
  if (int refused = refuseMachineNamespace(allowRootNetns, "overmeshd cleanup",
                                           "remove overmesh's links, namespaces and tables");
      refused != 0) {
    return refused;
  }
  options.grace = std::chrono::milliseconds(graceMs);
  std::error_code error;
  options.shimPath = std::filesystem::read_symlink("/proc/self/exe", error).string();
  auto report = overmesh::daemon::runCleanupCommand(options);
  if (!report) {
    std::fprintf(stderr, "overmeshd cleanup: %s\n", report.error().message.c_str());
    return 1;
  }
  std::fputs(overmesh::daemon::formatCleanupReport(*report).c_str(), stdout);
  return report->failed.empty() ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::string_view(argv[1]) == "shim") {  // a task's parent (runtime/shim.h)
    return overmesh::runtime::runShim(argc, argv);
  }
  if (argc > 1 && std::string_view(argv[1]) == "cleanup") {
    return cleanupMain(argc - 1, argv + 1);
  }
  CLI::App app{"overmeshd: the overmesh node daemon"};
  app.footer(
      "Subcommand: overmeshd cleanup [OPTIONS] removes everything overmesh made on this host "
      "(tasks, their namespaces and links, overlay devices, the gateway bridge, its nftables "
      "tables) with the daemon stopped; `overmeshd cleanup --help` says what and how.");
  overmesh::daemon::DaemonFlags flags;
  overmesh::daemon::addDaemonFlags(app, flags);
  overmesh::daemon::DaemonOptions& options = flags.options;
  try {
    app.parse(argc, argv);
  } catch (const CLI::ConfigError& error) {
    // CLI11 says "INI was not able to parse NAME" for a name it does not know.
    std::fprintf(stderr,
                 "overmeshd: --config %s: %s; valid names are the long options without their "
                 "dashes (overmeshd --help), e.g. state-dir = \"/var/lib/overmesh\"\n",
                 app.get_config_ptr()->as<std::string>().c_str(), error.what());
    return 1;
  } catch (const CLI::ParseError& error) {
    return app.exit(error);
  }

  if (!options.tcpHost.empty()) {
    // Refused before anything starts: a TCP API without client certificates would let
    // anyone who reaches the port run anything as root here.
    auto endpoint = overmesh::api::parseTcpEndpoint(options.tcpHost);
    overmesh::Status usable =
        endpoint ? overmesh::api::requireTlsFiles(options.tcpTls, "overmeshd --host tcp://…")
                 : overmesh::Status(std::unexpected(endpoint.error()));
    if (!usable) {
      std::fprintf(stderr, "overmeshd: %s\n", usable.error().message.c_str());
      return 1;
    }
  }

  if (auto files = overmesh::daemon::checkStoreTlsFiles(options.storeTls, "overmeshd"); !files) {
    std::fprintf(stderr, "overmeshd: %s\n", files.error().message.c_str());
    return 1;
  }

  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e level=%l pid=%P %v");
  spdlog::set_level(spdlog::level::from_str(flags.logLevel));
  raiseDescriptorLimit();

  if (int refused = refuseMachineNamespace(flags.allowRootNetns, "overmeshd",
                                           "program links, routes and rules");
      refused != 0) {
    return refused;
  }

  // Block the stop signals in every thread (they inherit the mask) and wait for one here.
  sigset_t stopSignals;
  sigemptyset(&stopSignals);
  sigaddset(&stopSignals, SIGTERM);
  sigaddset(&stopSignals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stopSignals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  std::error_code error;
  options.shimPath = std::filesystem::read_symlink("/proc/self/exe", error).string();
  auto daemon = overmesh::daemon::Daemon::start(options);
  if (!daemon) {
    spdlog::error("overmeshd: {}", daemon.error().message);
    std::fprintf(stderr, "overmeshd: %s\n", daemon.error().message.c_str());
    return 1;
  }
  // A host firewall that drops the cluster's ports makes nodes look down or overlays
  // silent with no other clue: say so once at start (and in `overmesh info`).
  overmesh::api::Info started = (*daemon)->info();
  if (!started.firewallError.empty()) {
    spdlog::warn("host firewall: cannot check: {}", started.firewallError);
  }
  for (const std::string& block : started.firewallBlocks) {
    spdlog::warn("host firewall blocks a port this node needs: {}", block);
  }
  int received = 0;
  sigwait(&stopSignals, &received);
  spdlog::info("received signal {}, shutting down", received);
  (*daemon)->stop();
  return 0;
}
