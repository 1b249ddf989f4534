// The embedded resolver under load, for bench/dns_qps.sh: creates a network namespace
// (lo up), starts a DnsServer whose directory holds N services (VIP mode, 3 replicas each)
// on one network, attaches the namespace as a sandbox on that network, prints "ready"
// (logs go to stderr), and serves until SIGTERM/SIGINT; then it stops and deletes the
// namespace. Also writes the query files dnsperf replays.
//
// Usage: dns_bench_server --netns NAME --services N --queries DIR
// The namespace must not exist; it is the only thing this program changes in the kernel.

#include <signal.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "dataplane/linux/netlink.h"
#include "dataplane/linux/netns.h"
#include "dns/dns_server.h"

namespace {

using namespace overmesh;

constexpr const char* kNetworkId = "benchnetwork0000000000001";

std::shared_ptr<const dns::DnsDirectory> benchDirectory(int services) {
  api::Network network;
  network.id = kNetworkId;
  network.name = "bench";
  api::Node node;
  node.id = "node1";
  node.state = "ready";
  std::vector<api::Service> all;
  std::vector<api::Task> tasks;
  all.reserve(static_cast<std::size_t>(services));
  for (int i = 0; i < services; ++i) {
    api::Service service;
    service.id = fmt::format("svc{}", i);
    service.spec.name = fmt::format("s{}", i);
    service.attachments.push_back({kNetworkId, "bench", {}});
    std::uint32_t base = 0x0a000000u + static_cast<std::uint32_t>(i) * 4;  // 10.0.0.0/8
    service.vips.push_back({kNetworkId, Ipv4Address::fromValue(base + 1).toString() + "/8"});
    for (int slot = 1; slot <= 3; ++slot) {
      api::Task task;
      task.id = fmt::format("t{}x{}", i, slot);
      task.serviceId = service.id;
      task.name = fmt::format("s{}.{}.{}", i, slot, task.id);
      task.nodeId = "node1";
      task.desiredState = "running";
      task.state = "running";
      task.attachments.push_back(
          {kNetworkId, "bench",
           Ipv4Address::fromValue(base + 1 + static_cast<std::uint32_t>(slot)).toString() + "/8",
           ""});
      tasks.push_back(std::move(task));
    }
    all.push_back(std::move(service));
  }
  auto started = std::chrono::steady_clock::now();
  auto directory = dns::DnsDirectory::build({network}, all, tasks, {node});
  auto took = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started);
  // The agent rebuilds the directory after every change of its cache: this is that cost.
  std::cout << fmt::format("directory: {} services, {} tasks, {} names built in {:.1f} ms",
                           services, tasks.size(), directory->size(), took.count())
            << std::endl;
  return directory;
}

// Query files: our names (service names and tasks.X, random services) and the same
// service names for the reference resolver, which serves them from a hosts file.
void writeQueryFiles(const std::string& dir, int services) {
  std::mt19937 random(1);
  std::ofstream ours(dir + "/ours.txt");
  std::ofstream reference(dir + "/reference.txt");
  std::ofstream hosts(dir + "/hosts");
  for (int i = 0; i < 10000; ++i) {
    int service = static_cast<int>(random() % static_cast<unsigned>(services));
    ours << (i % 2 == 0 ? "" : "tasks.") << "s" << service << " A\n";
    reference << "s" << service << " A\n";
  }
  for (int i = 0; i < services; ++i) {
    hosts << Ipv4Address::fromValue(0x0a000000u + static_cast<std::uint32_t>(i) * 4 + 1).toString()
          << " s" << i << "\n";
  }
}

int run(const std::string& netns, int services, const std::string& queryDir) {
  auto created = dataplane::kernel::createNamespace(netns);
  if (!created) {
    std::cerr << "dns_bench_server: " << created.error().message << "\n";
    return 2;
  }
  int code = 0;
  {
    auto netlink = dataplane::kernel::Netlink::open(netns);
    auto up = netlink ? netlink->setUp("lo") : Status(std::unexpected(netlink.error()));
    auto server = dns::DnsServer::start(dns::DnsServerConfig{.resolvConfPath = "/nonexistent"});
    if (!up || !server) {
      std::cerr << "dns_bench_server: " << (!up ? up.error().message : server.error().message)
                << "\n";
      code = 2;
    } else {
      (*server)->setDirectory(benchDirectory(services));
      auto attached =
          (*server)->attachSandbox("bench", dataplane::kernel::namespacePath(netns), {kNetworkId});
      if (!attached) {
        std::cerr << "dns_bench_server: " << attached.error().message << "\n";
        code = 2;
      } else {
        writeQueryFiles(queryDir, services);
        std::cout << "ready" << std::endl;
        sigset_t signals;
        sigemptyset(&signals);
        sigaddset(&signals, SIGTERM);
        sigaddset(&signals, SIGINT);
        int received = 0;
        sigwait(&signals, &received);  // blocked in every thread since main()
        auto stats = (*server)->stats();
        std::cerr << fmt::format(
            "dns_bench_server: answered {} forwarded {} servfail {} malformed {}\n", stats.answered,
            stats.forwarded, stats.servfail, stats.malformed);
      }
    }
  }
  auto deleted = dataplane::kernel::deleteNamespace(netns);
  if (!deleted) {
    std::cerr << "dns_bench_server: " << deleted.error().message << "\n";
    return 2;
  }
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Serves the embedded resolver in a fresh namespace for bench/dns_qps.sh"};
  std::string netns;
  int services = 1000;
  std::string queryDir;
  app.add_option("--netns", netns, "namespace to create and serve in")->required();
  app.add_option("--services", services, "services in the directory")
      ->check(CLI::Range(1, 1000000));
  app.add_option("--queries", queryDir, "directory for the dnsperf query files")->required();
  CLI11_PARSE(app, argc, argv);
  // Block the stop signals in every thread from the start, so the server's threads never
  // take them and run() can wait for them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  spdlog::set_default_logger(spdlog::stderr_logger_mt("dns_bench"));
  return run(netns, services, queryDir);
}
