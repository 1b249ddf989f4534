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

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::string_view(argv[1]) == "shim") {  // a task's parent (runtime/shim.h)
    return overmesh::runtime::runShim(argc, argv);
  }
  CLI::App app{"overmeshd: the overmesh node daemon"};
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

  auto inRoot = overmesh::daemon::inMachineNetworkNamespace();
  if (!inRoot) {
    spdlog::error("cannot tell which network namespace this is: {}", inRoot.error().message);
    return 1;
  }
  if (*inRoot && !flags.allowRootNetns) {
    std::fprintf(stderr,
                 "overmeshd: refusing to run in the machine's own network namespace: it would "
                 "program links, routes and rules there. Run it inside a lab host (`overmesh "
                 "lab up`) or a namespace of its own. On a host meant to run it, install the "
                 "package and start the unit (`systemctl start overmeshd`, see "
                 "docs/install.md), or pass --allow-root-netns.\n");
    return 1;
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
